//! The migration runner: applies `migrations/NNNN_name.sql` in order over the Neon HTTP protocol
//! (the same path production uses), each file in one all-or-nothing batch together with its row in
//! `public.schema_migrations`, so a second run applies nothing and a failed file leaves no trace.

use crate::sql_split;
use anyhow::{Context, bail};
use sha2::{Digest, Sha256};
use shared::neon::{BatchOptions, NeonClient, NeonConfig, Query};
use shared::transport::ReqwestTransport;
use std::collections::BTreeMap;
use std::path::Path;

const CREATE_LEDGER: &str = "CREATE TABLE IF NOT EXISTS public.schema_migrations (\
    version text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())";
/// Serialises concurrent runners; the number is arbitrary but fixed.
const LOCK: &str = "SELECT pg_advisory_xact_lock(7223372036854775807)";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationFile {
    pub version: String,
    pub sql: String,
    pub checksum: String,
}

impl MigrationFile {
    pub fn new(version: impl Into<String>, sql: impl Into<String>) -> Self {
        let sql = sql.into();
        let checksum = format!("{:x}", Sha256::digest(sql.as_bytes()));
        Self { version: version.into(), sql, checksum }
    }
}

/// Reads `NNNN_name.sql` files, ordered by name.
pub fn read_dir(dir: &Path) -> anyhow::Result<Vec<MigrationFile>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|name| name.to_str()) else { continue };
        let Some(version) = name.strip_suffix(".sql") else { continue };
        if !version
            .split('_')
            .next()
            .is_some_and(|number| !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()))
        {
            bail!("migration {name} must be named NNNN_description.sql");
        }
        files.push(MigrationFile::new(version, std::fs::read_to_string(&path)?));
    }
    files.sort_by(|a, b| a.version.cmp(&b.version));
    Ok(files)
}

/// Which files still need applying. An applied file whose text changed is an error: migrations
/// are append-only, a fix is a new file.
pub fn pending<'a>(
    files: &'a [MigrationFile],
    applied: &BTreeMap<String, String>,
) -> anyhow::Result<Vec<&'a MigrationFile>> {
    let mut pending = Vec::new();
    for file in files {
        match applied.get(&file.version) {
            Some(checksum) if *checksum == file.checksum => {}
            Some(_) => {
                bail!("migration {} was changed after it was applied; add a new migration instead", file.version)
            }
            None => pending.push(file),
        }
    }
    Ok(pending)
}

/// Applies what is pending and returns how many files it applied.
pub async fn run(neon_url: &str, connection_string: &str, dir: &Path) -> anyhow::Result<usize> {
    let files = read_dir(dir)?;
    let client = NeonClient::from_config(
        ReqwestTransport::default(),
        NeonConfig { url: neon_url.to_owned(), connection_string: connection_string.to_owned() },
    );
    client.query(CREATE_LEDGER, &[]).await.context("creating public.schema_migrations")?;
    let mut applied_count = 0;
    for file in pending(&files, &applied(&client).await?)? {
        let mut queries = vec![Query::new(LOCK, &[])];
        queries.extend(sql_split::statements(&file.sql).into_iter().map(|statement| Query::new(statement, &[])));
        queries.push(Query::new(
            "INSERT INTO public.schema_migrations (version, checksum) VALUES ($1, $2)",
            &[&file.version, &file.checksum],
        ));
        match client.batch(&queries, BatchOptions::default()).await {
            Ok(_) => applied_count += 1,
            // Another runner applied it between our read and our batch: fine if it is the same text.
            Err(error) if error.is_unique_violation() => {
                pending(&files, &applied(&client).await?)?;
            }
            Err(error) => return Err(error).with_context(|| format!("applying migration {}", file.version)),
        }
    }
    Ok(applied_count)
}

async fn applied(client: &NeonClient<ReqwestTransport>) -> anyhow::Result<BTreeMap<String, String>> {
    let result = client.query("SELECT version, checksum FROM public.schema_migrations", &[]).await?;
    let mut applied = BTreeMap::new();
    for row in result.iter() {
        applied.insert(row.get::<String>(0)?, row.get::<String>(1)?);
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied_of(files: &[&MigrationFile]) -> BTreeMap<String, String> {
        files.iter().map(|file| (file.version.clone(), file.checksum.clone())).collect()
    }

    #[test]
    fn nothing_is_pending_once_everything_is_applied() {
        let files =
            [MigrationFile::new("0001_a", "create schema a;"), MigrationFile::new("0002_b", "create schema b;")];
        assert_eq!(pending(&files, &applied_of(&[&files[0]])).unwrap(), [&files[1]]);
        assert!(pending(&files, &applied_of(&[&files[0], &files[1]])).unwrap().is_empty());
    }

    #[test]
    fn editing_an_applied_migration_is_refused() {
        let original = MigrationFile::new("0001_a", "create schema a;");
        let edited = [MigrationFile::new("0001_a", "create schema a2;")];
        let error = pending(&edited, &applied_of(&[&original])).unwrap_err();
        assert!(error.to_string().contains("changed after it was applied"));
    }

    #[test]
    fn the_repository_migrations_are_well_named_and_split() {
        let files = read_dir(&crate::paths::repo_root().join("migrations")).unwrap();
        assert_eq!(files.first().map(|file| file.version.as_str()), Some("0001_schemas"));
        assert!(files.iter().all(|file| !sql_split::statements(&file.sql).is_empty()));
    }
}
