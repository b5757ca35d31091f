//! Gorilla-style XOR coding of f64 bit patterns (Pelkonen et al., VLDB 2015),
//! with this crate's bit I/O. Each page restarts: its first value is stored
//! whole, so the page decodes alone.
//!
//! Per later value, with `x = bits ^ previous_bits`:
//! `0` when `x == 0`; `10` + the bits of `x` inside the previous window when
//! they fit it; `11` + 5 bits of leading zeros (at most 31) + 6 bits of
//! `length - 1` + `length` meaningful bits, which opens a new window.

use super::bits::{BitReader, BitWriter};
use super::CodecError;

pub(crate) fn encode(values: &[f64]) -> Vec<u8> {
    let mut w = BitWriter::new();
    let Some((first, rest)) = values.split_first() else {
        return Vec::new();
    };
    let mut prev = first.to_bits();
    w.write(prev, 64);
    // (leading zeros, trailing zeros) of the open window; none at first.
    let mut window: Option<(u32, u32)> = None;
    for v in rest {
        let bits = v.to_bits();
        let x = bits ^ prev;
        prev = bits;
        if x == 0 {
            w.write_bit(false);
            continue;
        }
        w.write_bit(true);
        let lz = x.leading_zeros().min(31);
        let tz = x.trailing_zeros();
        match window {
            Some((wl, wt)) if lz >= wl && tz >= wt => {
                w.write_bit(false);
                w.write(x >> wt, 64 - wl - wt);
            }
            _ => {
                w.write_bit(true);
                let len = 64 - lz - tz;
                w.write(u64::from(lz), 5);
                w.write(u64::from(len - 1), 6);
                w.write(x >> tz, len);
                window = Some((lz, tz));
            }
        }
    }
    w.finish()
}

/// An upper bound on the encoded size of `n` values, used to cap buffers.
pub(crate) fn max_encoded_len(n: usize) -> usize {
    (n * (2 + 5 + 6 + 64)).div_ceil(8) + 8
}

pub(crate) fn decode(bytes: &[u8], out: &mut [f64]) -> Result<(), CodecError> {
    let mut r = BitReader::new(bytes);
    let Some((first, rest)) = out.split_first_mut() else {
        return if bytes.is_empty() {
            Ok(())
        } else {
            Err(CodecError::Invalid("xor page has bytes but no rows"))
        };
    };
    let mut prev = r.read(64)?;
    *first = f64::from_bits(prev);
    let mut window: Option<(u32, u32)> = None;
    for o in rest {
        if r.read_bit()? {
            let (wl, wt) = if r.read_bit()? {
                let lz = r.read(5)? as u32;
                let len = r.read(6)? as u32 + 1;
                if lz + len > 64 {
                    return Err(CodecError::Invalid("xor window wider than 64 bits"));
                }
                let w = (lz, 64 - lz - len);
                window = Some(w);
                w
            } else {
                window.ok_or(CodecError::Invalid(
                    "xor reuses a window before opening one",
                ))?
            };
            prev ^= r.read(64 - wl - wt)? << wt;
        }
        *o = f64::from_bits(prev);
    }
    if !r.only_padding_left() {
        return Err(CodecError::Invalid("trailing bits after xor page"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn any_bit_patterns_round_trip(bits in proptest::collection::vec(any::<u64>(), 0..300)) {
            let values: Vec<f64> = bits.iter().map(|&b| f64::from_bits(b)).collect();
            let bytes = encode(&values);
            prop_assert!(bytes.len() <= max_encoded_len(values.len()));
            let mut out = vec![0.0; values.len()];
            decode(&bytes, &mut out)?;
            let got: Vec<u64> = out.iter().map(|v| v.to_bits()).collect();
            prop_assert_eq!(got, bits);
        }
    }

    #[test]
    fn repeated_values_cost_one_bit() {
        let values = vec![0.25; 801];
        assert_eq!(encode(&values).len(), 8 + 100);
    }
}
