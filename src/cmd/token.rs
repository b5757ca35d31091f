//! `nines token`: make bearer tokens for `[[auth.tokens]]`.

use std::io::Read;
use std::process::ExitCode;

use nines_server::auth::{hash_secret, Role};

/// Make a bearer token, or hash one, for the server's `[[auth.tokens]]`.
///
/// The server stores only the SHA-256 of a token: `create` prints the
/// secret once (hand it to the client: `NINES_TOKEN`, Grafana's data
/// source, Prometheus's `remote_write.authorization`) and the TOML entry
/// to add to the server's configuration.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: TokenCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum TokenCommand {
    /// Make a new random token (256 bits) and print it with its TOML entry.
    Create {
        /// Who holds it (shown in the audit trail).
        #[arg(long)]
        name: String,
        /// reader (queries, reports, /metrics), writer (ingest,
        /// annotations) or admin (everything, SLO changes).
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// Bind the token to one tenant's series.
        #[arg(long)]
        tenant: Option<String>,
        /// Print `{"token": ..., "name": ..., "role": ..., "sha256": ...}`.
        #[arg(long)]
        json: bool,
    },
    /// Print the SHA-256 of a token read from standard input (one line).
    Hash,
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| format!("unknown role {s:?}: expected reader, writer or admin"))
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    match a.command {
        TokenCommand::Create {
            name,
            role,
            tenant,
            json,
        } => {
            if tenant.is_some() && role == Role::Admin {
                anyhow::bail!(
                    "an admin token cannot be bound to a tenant (admin APIs span tenants)"
                );
            }
            let mut bytes = [0u8; 32];
            std::fs::File::open("/dev/urandom")
                .and_then(|mut f| f.read_exact(&mut bytes))
                .map_err(|e| anyhow::anyhow!("cannot read /dev/urandom for the token: {e}"))?;
            let token = format!("nines_{}", nines_engine::chainlog::hex(&bytes));
            let sha = hash_secret(&token);
            if json {
                println!(
                    "{}",
                    serde_json::json!({
                        "token": token,
                        "name": name,
                        "role": role.as_str(),
                        "tenant": tenant,
                        "sha256": sha,
                    })
                );
            } else {
                println!("token (shown once; give it to the client): {token}");
                println!();
                println!("add to the server's configuration:");
                println!("[[auth.tokens]]");
                println!("name = {name:?}");
                println!("role = \"{}\"", role.as_str());
                println!("sha256 = \"{sha}\"");
                if let Some(t) = tenant {
                    println!("tenant = {t:?}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        TokenCommand::Hash => {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line)?;
            if line.trim().is_empty() {
                anyhow::bail!("no token on standard input");
            }
            println!("{}", hash_secret(&line));
            Ok(ExitCode::SUCCESS)
        }
    }
}
