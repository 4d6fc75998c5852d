//! The connection string's TLS settings, and the `key=value` reader against tokio-postgres's.

use super::*;

fn settings(mode: Mode, root: Root) -> Settings {
    Settings {
        mode,
        root,
        cert: None,
        key: None,
    }
}

#[test]
fn urls_lose_only_the_tls_parameters() {
    let (rest, s) = split(
        "postgres://u:p%40ss@db.example:5432/app?sslmode=verify-full&application_name=x&sslrootcert=%2Fetc%2Fca.pem",
    )
    .unwrap();
    assert_eq!(
        rest,
        "postgres://u:p%40ss@db.example:5432/app?application_name=x"
    );
    assert_eq!(
        s,
        settings(Mode::VerifyFull, Root::File("/etc/ca.pem".into()))
    );
    let (rest, s) = split("postgresql://db/app?sslmode=require").unwrap();
    assert_eq!(rest, "postgresql://db/app");
    assert_eq!(s, settings(Mode::Require, Root::Unset));
    let (rest, s) = split("postgres://db/app").unwrap();
    assert_eq!(rest, "postgres://db/app");
    assert_eq!(s, settings(Mode::Prefer, Root::Unset));
    assert!(split("postgres://db/app?sslmode=verify").is_err());
    let (rest, s) = split("postgres://db/app?sslcert=%2Fc.pem&sslkey=%2Fk.pem").unwrap();
    assert_eq!(rest, "postgres://db/app");
    assert_eq!(
        (s.cert, s.key),
        (Some("/c.pem".into()), Some("/k.pem".into()))
    );
    let (_, s) = split("postgres://db/app?sslcert=%2Fc.pem").unwrap();
    assert!(s.connector().is_err(), "a certificate without its key");
}

#[test]
fn key_value_strings_keep_every_other_pair() {
    let (rest, s) = split(
        "host=db.example  user = app password='it\\'s x' sslmode = verify-ca sslrootcert=system dbname=a\\ b",
    )
    .unwrap();
    assert_eq!(
        rest,
        "host='db.example' user='app' password='it\\'s x' dbname='a b'"
    );
    assert_eq!(s, settings(Mode::VerifyCa, Root::System));
    let config: tokio_postgres::Config = rest.parse().unwrap();
    assert_eq!(config.get_password(), Some(&b"it's x"[..]));
    assert_eq!(config.get_dbname(), Some("a b"));
    assert!(split("host=db password='open").is_err());
    assert!(split("host").is_err());
}

/// Generated `key=value` strings (quotes, escapes, spaces around `=`, empty values, stray
/// `=`, cut short): what tokio-postgres reads from the string as given and from the string
/// `split` leaves are the same settings, or both are errors.
#[test]
fn key_values_read_as_tokio_postgres_reads_them() {
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let keys = [
        "host",
        "port",
        "user",
        "password",
        "dbname",
        "application_name",
        "options",
    ];
    let alphabet = ['a', 'Z', '0', ' ', '\'', '\\', '=', '\t', 'é', '/', ','];
    let (mut compared, mut errors) = (0, 0);
    for _ in 0..20_000 {
        let mut s = String::new();
        for _ in 0..1 + next(4) {
            s.push_str([" ", "", "  ", "\t"][next(4)]);
            s.push_str(keys[next(keys.len())]);
            s.push_str(["=", " = ", "=", " ="][next(4)]);
            let raw: String = (0..next(5))
                .map(|_| alphabet[next(alphabet.len())])
                .collect();
            match next(3) {
                0 => {
                    s.push('\'');
                    s.push_str(&raw.replace('\\', "\\\\").replace('\'', "\\'"));
                    s.push('\'');
                }
                1 => s.push_str(&raw),
                _ => {
                    for c in raw.chars() {
                        if c.is_whitespace() || c == '\'' || c == '\\' {
                            s.push('\\');
                        }
                        s.push(c);
                    }
                }
            }
            s.push(' ');
        }
        if next(8) == 0 {
            let mut cut = next(s.len() + 1);
            while !s.is_char_boundary(cut) {
                cut -= 1;
            }
            s.truncate(cut);
        }
        let theirs = s.parse::<tokio_postgres::Config>();
        let ours = split(&s).and_then(|(rest, _)| {
            rest.parse::<tokio_postgres::Config>()
                .map_err(|e| e.to_string())
        });
        match (theirs, ours) {
            (Ok(a), Ok(b)) => {
                compared += 1;
                assert_eq!(format!("{a:?}"), format!("{b:?}"), "{s:?}");
                assert_eq!(a.get_password(), b.get_password(), "{s:?}");
            }
            (Err(_), Err(_)) => errors += 1,
            (a, b) => panic!("{s:?}: tokio-postgres {:?}, ours {:?}", a.err(), b.err()),
        }
    }
    assert!(compared > 2_000 && errors > 2_000, "{compared} {errors}");
}

#[test]
fn what_each_mode_checks() {
    let file = Root::File("/ca.pem".into());
    assert_eq!(settings(Mode::Prefer, Root::Unset).check(), Check::Nothing);
    assert_eq!(settings(Mode::Prefer, file.clone()).check(), Check::Nothing);
    assert_eq!(settings(Mode::Require, Root::Unset).check(), Check::Nothing);
    assert_eq!(settings(Mode::Require, file.clone()).check(), Check::Chain);
    assert_eq!(settings(Mode::VerifyCa, Root::Unset).check(), Check::Chain);
    assert_eq!(settings(Mode::VerifyFull, file).check(), Check::Full);
    assert!(settings(Mode::Require, Root::Unset).warning().is_some());
    assert!(settings(Mode::VerifyFull, Root::Unset).warning().is_none());
    assert_eq!(
        settings(Mode::VerifyCa, Root::Unset).ssl_mode(),
        SslMode::Require
    );
}
