//! One owner per store: a second server or a writing command on a served SQLite data
//! directory is refused with a clear message (and `audit verify` still reads it); on
//! PostgreSQL two servers share one database under load with no error and one intact
//! chain, and a command that must run alone refuses while they serve.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crate::server::{
    CREATE_OPS, Place, free_port, id_number, request, run, seed, sign_in, start, stop, verified,
};
use crate::text;

#[test]
fn a_served_data_directory_has_one_owner() {
    let dir = gongti_testdb::temp_dir("gongti-owner");
    let place = Place::Dir(dir.to_str().unwrap().to_owned());
    seed(&place);
    let port = free_port();
    let (server, _) = start(&place, port);
    let pid = format!("pid {}", server.id());

    let second_port = free_port().to_string();
    for args in [
        vec!["serve", "--listen", &format!("127.0.0.1:{second_port}")],
        CREATE_OPS.to_vec(),
        vec!["user", "set-password", "--username", "doctor"],
        vec!["indicators", "rebuild"],
        vec!["migrate"],
    ] {
        let out = run(&place, &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        let said = text(&out);
        assert!(
            said.contains("owns the data directory") && said.contains(&pid),
            "{args:?}: {said}"
        );
    }
    // Reading beside the owner is allowed.
    verified(&place);
    // The server was not disturbed.
    let token = sign_in(port);
    let body = format!(r#"{{"name":"独占","id_number":"{}"}}"#, id_number(4242));
    let (status, answer) = request(port, "POST", "/api/v1/residents", &token, &body).unwrap();
    assert_eq!(status, 201, "{answer}");
    stop(server);

    // Once it has stopped, the command goes through, audited.
    let out = run(&place, CREATE_OPS);
    assert!(out.status.success(), "{}", text(&out));
    verified(&place);
}

#[tokio::test(flavor = "multi_thread")]
async fn two_servers_share_one_postgres_database_and_one_chain() {
    let Some(place) = Place::postgres().await else {
        return;
    };
    tokio::task::spawn_blocking(move || two_servers(&place))
        .await
        .unwrap();
}

fn two_servers(place: &Place) {
    seed(place);
    let ports = [free_port(), free_port()];
    let servers: Vec<_> = ports.iter().map(|p| start(place, *p).0).collect();

    // A command that must run alone refuses while they serve.
    let out = run(place, &["indicators", "rebuild"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("stop every server"), "{}", text(&out));

    // Mixed writes through both at once.
    let stop_flag = Arc::new(AtomicBool::new(false));
    let (sent, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let workers: Vec<_> = (0..4u64)
        .map(|w| {
            let port = ports[(w % 2) as usize];
            let (stop_flag, sent, failed) = (stop_flag.clone(), sent.clone(), failed.clone());
            std::thread::spawn(move || {
                let token = sign_in(port);
                let mut n = 0u64;
                while !stop_flag.load(Ordering::Relaxed) {
                    n += 1;
                    let body = format!(
                        r#"{{"name":"并发{w}","id_number":"{}"}}"#,
                        id_number(w * 100_000 + n)
                    );
                    let ok = match request(port, "POST", "/api/v1/residents", &token, &body) {
                        Some((201, answer)) => {
                            let id = crate::server::json_field(&answer, "id").unwrap().to_owned();
                            matches!(
                                request(
                                    port,
                                    "GET",
                                    &format!("/api/v1/residents/{id}"),
                                    &token,
                                    ""
                                ),
                                Some((200, _))
                            )
                        }
                        _ => false,
                    };
                    sent.fetch_add(2, Ordering::Relaxed);
                    if !ok {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(3));
    // A command that writes may run beside the servers on PostgreSQL: it appends to
    // the same chain under the same lock.
    let out = run(place, CREATE_OPS);
    assert!(out.status.success(), "{}", text(&out));
    std::thread::sleep(Duration::from_secs(1));
    stop_flag.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    for s in servers {
        stop(s);
    }
    let (sent, failed) = (sent.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    assert!(sent > 100, "too little load to say anything: {sent}");
    assert_eq!(failed, 0, "{failed} of {sent} requests failed");
    let said = verified(place);
    eprintln!("two servers, one database: {sent} requests, 0 failed\n{said}");
}
