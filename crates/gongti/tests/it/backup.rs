//! `gongti backup` and `gongti restore` on both engines (DOMAIN.md §10): a backup
//! taken while the server serves, then the store lost; the restore refuses a damaged
//! archive, another key file and a store that is not empty, and otherwise brings back
//! exactly what was there at the backup — `audit verify` sound (the checkpoints of the
//! lost history no longer count), the same answers, the later write gone.

use crate::server::{
    Place, free_port, id_number, json_field, request, run, seed, sign_in, start, stop, verified,
};
use crate::text;

#[test]
fn a_sqlite_store_is_restored_as_it_was_at_the_backup() {
    let place = Place::sqlite();
    // The store is lost; its key files, kept apart, are not.
    backup_and_restore(&place, &place, || {
        for entry in std::fs::read_dir(place.dir()).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with("gongti.db") || name.starts_with("audit.db") {
                std::fs::remove_file(path).unwrap();
            }
        }
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn a_postgres_database_is_restored_as_it_was_at_the_backup() {
    let Some(place) = Place::postgres().await else {
        return;
    };
    let admin = gongti_testdb::postgres_admin_url().unwrap();
    // A new, empty database with the same key files and anchor.
    let restored = Place::Url(
        gongti_testdb::fresh_postgres_url(&admin).await,
        place.dir().to_owned(),
    );
    tokio::task::spawn_blocking(move || backup_and_restore(&place, &restored, || {}))
        .await
        .unwrap();
}

/// What the server answers about the residents `ids`, as they are read back.
fn answers(port: u16, token: &str, ids: &[String]) -> Vec<String> {
    let mut said = Vec::new();
    for id in ids {
        for path in [
            format!("/api/v1/residents/{id}"),
            format!("/fhir/Patient/{id}"),
        ] {
            let (status, body) = request(port, "GET", &path, token, "").unwrap();
            assert_eq!(status, 200, "{path}: {body}");
            said.push(body);
        }
    }
    let (status, body) = request(
        port,
        "GET",
        "/api/v1/residents?name=%E5%A4%87%E4%BB%BD",
        token,
        "",
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    said.push(body);
    said
}

fn backup_and_restore(place: &Place, restored: &Place, lose_the_store: impl FnOnce()) {
    seed(place);
    let port = free_port();
    let (server, _) = start(place, port);
    let token = sign_in(port);
    let register = |n: u64| {
        let body = format!(
            r#"{{"name":"备份{n}","id_number":"{}","phone":"1380013{n:04}"}}"#,
            id_number(7_000 + n)
        );
        let (status, answer) = request(port, "POST", "/api/v1/residents", &token, &body).unwrap();
        assert_eq!(status, 201, "{answer}");
        json_field(&answer, "id").unwrap().to_owned()
    };
    let ids: Vec<String> = (1..=3).map(register).collect();
    let before = answers(port, &token, &ids);

    // Taken while the server serves.
    let archive = format!("{}/region.gtb", place.dir());
    let out = run(place, &["backup", "--out", &archive]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("backup written"), "{}", text(&out));
    // Never over an existing file.
    let out = run(place, &["backup", "--out", &archive]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("never overwrites"), "{}", text(&out));
    // Nothing personal in the clear in the archive.
    let bytes = std::fs::read(&archive).unwrap();
    let clear = String::from_utf8_lossy(&bytes);
    assert!(
        !clear.contains("备份1") && !clear.contains(&id_number(7_001)),
        "the archive is not sealed"
    );
    let later = register(4);
    stop(server);
    lose_the_store();

    // A damaged or cut archive, or another key file: refused, nothing restored.
    let damaged = format!("{}/damaged.gtb", place.dir());
    let mut changed = bytes.clone();
    let middle = changed.len() / 2;
    changed[middle] ^= 0x40;
    std::fs::write(&damaged, &changed).unwrap();
    let cut = format!("{}/cut.gtb", place.dir());
    std::fs::write(&cut, &bytes[..bytes.len() - 100]).unwrap();
    for bad in [&damaged, &cut] {
        let out = run(restored, &["restore", "--from", bad]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(text(&out).contains("cannot be restored"), "{}", text(&out));
        assert_empty(restored);
    }
    // The same key ids with other key material.
    let other_key = format!("{}/other.key", place.dir());
    let key_file = std::fs::read_to_string(format!("{}/data.key", place.dir())).unwrap();
    let other: Vec<String> = key_file
        .lines()
        .map(|l| match l.rsplit_once(' ') {
            Some((head, key)) if l.starts_with("key ") => {
                format!("{head} {}", "ab".repeat(key.len() / 2))
            }
            _ => l.to_owned(),
        })
        .collect();
    std::fs::write(&other_key, other.join("\n") + "\n").unwrap();
    let mut with_other_key: Vec<String> = restored.args();
    match with_other_key.iter().position(|a| a == "--data-key") {
        Some(at) => with_other_key[at + 1] = other_key,
        None => with_other_key.extend(["--data-key".into(), other_key]),
    }
    let out = crate::server::run_with(&with_other_key, &["restore", "--from", &archive]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("does not open"), "{}", text(&out));
    assert_empty(restored);

    let out = run(restored, &["restore", "--from", &archive]);
    assert!(out.status.success(), "{}", text(&out));
    let said = verified(restored);
    assert!(said.contains("restored from a backup"), "{said}");
    assert!(said.contains("no longer count"), "{said}");
    // Into a store that is not empty: refused.
    let out = run(restored, &["restore", "--from", &archive]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("already holds"), "{}", text(&out));

    let port = free_port();
    let (server, _) = start(restored, port);
    let token = sign_in(port);
    assert_eq!(answers(port, &token, &ids), before);
    let (status, _) = request(
        port,
        "GET",
        &format!("/api/v1/residents/{later}"),
        &token,
        "",
    )
    .unwrap();
    assert_eq!(status, 404, "the write after the backup is not in it");
    stop(server);
    let said = verified(restored);
    assert!(said.contains("intact"), "{said}");
}

/// Nothing was restored into `place`.
fn assert_empty(place: &Place) {
    match place {
        Place::Dir(d) => assert!(
            !std::path::Path::new(d).join("gongti.db").exists(),
            "a refused restore left a store in {d}"
        ),
        Place::Url(url, _) => {
            let url = url.clone();
            let empty = std::thread::spawn(move || {
                tokio::runtime::Runtime::new()
                    .unwrap()
                    .block_on(gongti_store::backup::postgres_is_empty(&url))
                    .unwrap()
            });
            assert!(
                empty.join().unwrap(),
                "a refused restore left tables behind"
            );
        }
    }
}
