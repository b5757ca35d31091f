//! A pco chunk as a column: the pco file header and chunk meta go into our
//! meta once, each page is a pco page. Pco's own format carries its version
//! (the two header bytes), so a future pco can still read what this one wrote.

use pco::data_types::Number;
use pco::metadata::Mode;
use pco::wrapped::{ChunkDecompressor, FileCompressor, FileDecompressor};
use pco::{ChunkConfig, DeltaSpec, ModeSpec, PagingSpec};

use super::bits::ByteReader;
use super::{CodecError, EncodedColumn};

/// Pco refuses chunks longer than this (its `MAX_ENTRIES`); such columns use
/// the encodings that do not need pco.
pub(crate) const PCO_MAX_ROWS: usize = 1 << 24;

/// How pco should look for deltas.
#[derive(Clone, Copy, Debug)]
pub(crate) enum PcoDelta {
    /// Values are already residuals: no delta.
    None,
    /// Let pco pick (consecutive deltas, int-mult mode and so on).
    Auto,
}

/// Encodes `values` with pco into `meta` (appended after what the caller
/// wrote) and one pco page per entry of `page_lens`. `None` when pco refuses
/// (empty or too long input); the caller then uses another encoding.
///
/// Pco's automatic mode choice sometimes picks a multiplier mode that costs
/// twice the entropy (seen on Poisson counters: `IntMult(62)`), so whenever
/// it picks a non-classic mode, classic mode is tried too and the smaller kept.
pub(crate) fn encode<T: Number>(
    values: &[T],
    page_lens: &[usize],
    delta: PcoDelta,
    meta: Vec<u8>,
) -> Option<EncodedColumn> {
    if values.is_empty() || values.len() > PCO_MAX_ROWS {
        return None;
    }
    let delta_spec = match delta {
        PcoDelta::None => DeltaSpec::NoOp,
        PcoDelta::Auto => DeltaSpec::Auto,
    };
    let config = ChunkConfig::default()
        .with_delta_spec(delta_spec)
        .with_paging_spec(PagingSpec::Exact(page_lens.to_vec()));
    let (auto, mode) = encode_with(values, &config, meta.clone())?;
    if matches!(mode, Mode::Classic) {
        return Some(auto);
    }
    let classic = encode_with(values, &config.with_mode_spec(ModeSpec::Classic), meta);
    match classic {
        Some((c, _)) if c.encoded_len() < auto.encoded_len() => Some(c),
        _ => Some(auto),
    }
}

fn encode_with<T: Number>(
    values: &[T],
    config: &ChunkConfig,
    meta: Vec<u8>,
) -> Option<(EncodedColumn, Mode)> {
    let fc = FileCompressor::default();
    let meta = fc.write_header(meta).ok()?;
    let mut cc = fc.chunk_compressor(values, config).ok()?;
    let meta = cc.write_meta(meta).ok()?;
    let mut pages = Vec::with_capacity(cc.n_per_page().len());
    for i in 0..cc.n_per_page().len() {
        pages.push(cc.write_page(i, Vec::new()).ok()?);
    }
    let mode = cc.meta().mode.clone();
    Some((EncodedColumn { meta, pages }, mode))
}

/// A parsed pco chunk meta.
pub(crate) struct PcoColumn<T: Number> {
    chunk: ChunkDecompressor<T>,
}

impl<T: Number> std::fmt::Debug for PcoColumn<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PcoColumn").finish_non_exhaustive()
    }
}

impl<T: Number> PcoColumn<T> {
    /// Parses the pco header and chunk meta, which must fill `r` exactly.
    pub(crate) fn parse(r: ByteReader<'_>) -> Result<Self, CodecError> {
        let src = r.rest();
        let (file, src) = FileDecompressor::new(src)?;
        let (chunk, src) = file.chunk_decompressor::<T, _>(src)?;
        if !src.is_empty() {
            return Err(CodecError::Invalid("trailing bytes after pco chunk meta"));
        }
        Ok(PcoColumn { chunk })
    }

    /// Decodes one page into `out` (its length is the page's row count).
    pub(crate) fn decode(
        &self,
        scratch: &mut pco::DecompressorScratch,
        page: &[u8],
        out: &mut [T],
    ) -> Result<(), CodecError> {
        let mut pd = self
            .chunk
            .page_decompressor_with_scratch(page, out.len(), scratch)?;
        let progress = pd.read(out)?;
        if !progress.finished || progress.n_processed != out.len() {
            return Err(CodecError::Invalid(
                "pco page holds fewer rows than expected",
            ));
        }
        if !pd.into_src().is_empty() {
            return Err(CodecError::Invalid("trailing bytes after pco page"));
        }
        Ok(())
    }
}
