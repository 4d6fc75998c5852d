//! Which secrets an API from the store (written through the admin API) may name. A backend
//! credential's secret is read by the gateway and sent to the API's backend, which the mapping
//! also names: without a rule an admin could send any environment variable or file of the
//! gateway's to a server of their own. Config-file APIs are the operator's and are not checked.

use std::path::Component;

use crate::config::{AdminConfig, ApiConfig, Secret};

/// `Ok` when every secret `api` names is one `admin` lets a stored mapping use. Decided from the
/// names alone (nothing is read), so a refusal says nothing about what exists.
pub fn check(api: &ApiConfig, admin: &AdminConfig) -> Result<(), String> {
    for secret in api.downstream.credential.secrets() {
        allowed(secret, admin)
            .map_err(|why| format!("api `{}`: downstream credential: {why}", api.name))?;
    }
    Ok(())
}

fn allowed(secret: &Secret, admin: &AdminConfig) -> Result<(), String> {
    match (&secret.env, &secret.file) {
        (Some(name), None) => {
            let ok = admin.secret_env.iter().any(|p| match p.strip_suffix('*') {
                Some(prefix) => name.starts_with(prefix),
                None => name == p,
            });
            if ok {
                Ok(())
            } else {
                Err(format!(
                    "environment variable `{name}` is not one a stored mapping may use (admin.secret_env: {})",
                    admin.secret_env.join(", ")
                ))
            }
        }
        (None, Some(path)) => {
            let plain = path.is_absolute()
                && path
                    .components()
                    .all(|c| matches!(c, Component::RootDir | Component::Normal(_)));
            if plain && admin.secret_dirs.iter().any(|d| path.starts_with(d)) {
                Ok(())
            } else {
                Err(format!(
                    "file `{}` is not in a directory a stored mapping may use (admin.secret_dirs: {})",
                    path.display(),
                    list(&admin.secret_dirs)
                ))
            }
        }
        _ => Err("a secret needs exactly one of `env` or `file`".into()),
    }
}

fn list(dirs: &[std::path::PathBuf]) -> String {
    if dirs.is_empty() {
        return "none".into();
    }
    dirs.iter()
        .map(|d| d.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Secret {
        Secret {
            env: Some(name.into()),
            file: None,
        }
    }

    fn file(path: &str) -> Secret {
        Secret {
            env: None,
            file: Some(path.into()),
        }
    }

    #[test]
    fn only_the_names_and_directories_the_operator_allowed() {
        let mut admin = AdminConfig::default();
        assert!(allowed(&env("REST2MCP_SECRET_PETS"), &admin).is_ok());
        for bad in ["REST2MCP_ADMIN_TOKEN", "DATABASE_URL", "REST2MCP_SECRE", ""] {
            assert!(allowed(&env(bad), &admin).is_err(), "{bad}");
        }
        assert!(allowed(&file("/run/secrets/x"), &admin).is_err());
        admin.secret_env = vec!["PETS_KEY".into(), "API_*".into()];
        admin.secret_dirs = vec!["/run/secrets/apis".into()];
        assert!(allowed(&env("PETS_KEY"), &admin).is_ok());
        assert!(allowed(&env("PETS_KEY2"), &admin).is_err());
        assert!(allowed(&env("API_X"), &admin).is_ok());
        assert!(allowed(&file("/run/secrets/apis/pets"), &admin).is_ok());
        for bad in [
            "/run/secrets/apis/../../../etc/shadow",
            "/run/secrets/apis2/x",
            "run/secrets/apis/x",
            "/etc/passwd",
        ] {
            assert!(allowed(&file(bad), &admin).is_err(), "{bad}");
        }
        let both = Secret {
            env: Some("API_X".into()),
            file: Some("/run/secrets/apis/pets".into()),
        };
        assert!(allowed(&both, &admin).is_err());
    }
}
