//! The downloader against loopback HTTP servers on 127.0.0.1 that misbehave in
//! every way the issue lists. After each scenario the test asserts what is on
//! disk: the verified file, or nothing (never a partial file under a final name,
//! never a leftover temporary file).

#![cfg(feature = "download")]

mod common;

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bp_data::fetch::{fetch, fetch_files, FetchEvent, FetchOptions, FileOutcome, Mirror};
use bp_data::idx::{self, IdxArray, IdxData};
use bp_data::{DataError, DataFile, Dataset};
use common::{data_file, labels, listing, Reply, Server};

const NAME: &str = "t10k-labels-idx1-ubyte";
const GZ: &str = "t10k-labels-idx1-ubyte.gz";

/// The raw and gzip bytes of a generated label file, and its `DataFile`.
fn labels_file() -> (Vec<u8>, Vec<u8>, DataFile) {
    let raw = idx::encode(&labels(3000, 0), false);
    let gz = idx::gzip_bytes(&raw);
    let f = data_file(NAME, &raw);
    (raw, gz, f)
}

fn opts(mirrors: &[String]) -> FetchOptions {
    FetchOptions {
        mirrors: mirrors.iter().map(|m| m.parse().expect("mirror")).collect(),
        default_mirrors: false,
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_millis(300),
        max_redirects: 3,
        ..FetchOptions::default()
    }
}

/// Runs a fetch of the one label file, collecting events.
fn run(
    f: &DataFile,
    dest: &Path,
    o: &FetchOptions,
) -> (
    Result<bp_data::fetch::FetchReport, DataError>,
    Vec<FetchEvent>,
) {
    let mut events = Vec::new();
    let final_path = dest.join(GZ);
    let existed = final_path.exists();
    let r = fetch_files(std::slice::from_ref(f), dest, o, &mut |e| {
        if let FetchEvent::Progress { .. } = e {
            // Nothing appears under the final name while bytes are arriving.
            assert_eq!(
                final_path.exists(),
                existed,
                "final name appeared mid-download"
            );
        }
        events.push(e)
    });
    (r, events)
}

/// The one failed attempt's reason, asserting that nothing is left on disk.
fn single_failure(r: Result<bp_data::fetch::FetchReport, DataError>, dest: &Path) -> String {
    let e = r.expect_err("should fail");
    assert_eq!(
        listing(dest),
        Vec::<String>::new(),
        "nothing may be left behind"
    );
    match e {
        DataError::FetchFailed { file, attempts, .. } => {
            assert_eq!(file, NAME);
            assert_eq!(attempts.len(), 1, "{attempts:?}");
            attempts[0].reason.clone()
        }
        other => panic!("expected FetchFailed, got {other:?}"),
    }
}

fn assert_verified(dest: &Path, f: &DataFile) {
    assert_eq!(listing(dest), vec![GZ.to_string()]);
    bp_data::verify_file(&dest.join(GZ), f).expect("the file on disk verifies");
}

#[test]
fn not_found_then_good_mirror() {
    let (_, gz, f) = labels_file();
    let server = Server::start(move |path| match path {
        "/good/t10k-labels-idx1-ubyte.gz" => Reply::Body(gz.clone()),
        _ => Reply::Status(404),
    });
    let dest = tempfile::tempdir().expect("tempdir");
    let o = opts(&[server.url("/missing/"), server.url("/good")]);
    let (r, events) = run(&f, dest.path(), &o);
    let report = r.expect("second mirror works");
    assert_verified(dest.path(), &f);
    assert!(events
        .iter()
        .any(|e| matches!(e, FetchEvent::Failed { reason, .. } if reason.contains("HTTP 404"))));
    match &report.files[0].outcome {
        FileOutcome::Fetched {
            mirror,
            source,
            bytes,
        } => {
            assert_eq!(mirror, &o.mirrors[1]);
            assert_eq!(source, &server.url("/good/t10k-labels-idx1-ubyte.gz"));
            assert!(*bytes > 0);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn server_error_500() {
    let (_, _, f) = labels_file();
    let server = Server::start(|_| Reply::Status(500));
    let dest = tempfile::tempdir().expect("tempdir");
    let (r, _) = run(&f, dest.path(), &opts(&[server.url("/m/")]));
    let reason = single_failure(r, dest.path());
    assert!(reason.contains("HTTP 500"), "{reason}");
}

#[test]
fn connection_closed_mid_body() {
    let (_, gz, f) = labels_file();
    let half = gz.len() / 2;
    let body = gz.clone();
    let server = Server::start(move |path| {
        if path.starts_with("/broken/") {
            Reply::CloseMidBody {
                body: body.clone(),
                sent: half,
            }
        } else {
            Reply::Body(body.clone())
        }
    });
    let dest = tempfile::tempdir().expect("tempdir");
    let (r, _) = run(&f, dest.path(), &opts(&[server.url("/broken/")]));
    let reason = single_failure(r, dest.path());
    assert!(
        reason.contains(&format!("after {half} of {} bytes", gz.len()))
            || reason.contains(&format!("closed after {half} of {}", gz.len())),
        "{reason}"
    );
    // With a good mirror after it, the good copy lands.
    let (r, _) = run(
        &f,
        dest.path(),
        &opts(&[server.url("/broken/"), server.url("/ok/")]),
    );
    r.expect("second mirror");
    assert_verified(dest.path(), &f);
}

#[test]
fn html_page_served_with_200() {
    let (_, _, f) = labels_file();
    let server = Server::start(|_| {
        Reply::Body(b"<!DOCTYPE html>\n<html><body>Please sign in</body></html>\n".to_vec())
    });
    let dest = tempfile::tempdir().expect("tempdir");
    let (r, _) = run(&f, dest.path(), &opts(&[server.url("/m/")]));
    let reason = single_failure(r, dest.path());
    assert!(
        reason.contains("HTML") && reason.contains("discarded"),
        "{reason}"
    );
}

#[test]
fn wrong_hash() {
    let (_, _, f) = labels_file();
    // A valid IDX file of the right size, but other contents.
    let other = idx::gzip_bytes(&idx::encode(&labels(3000, 1), false));
    let server = Server::start(move |_| Reply::Body(other.clone()));
    let dest = tempfile::tempdir().expect("tempdir");
    let (r, _) = run(&f, dest.path(), &opts(&[server.url("/m/")]));
    let reason = single_failure(r, dest.path());
    assert!(
        reason.contains("SHA-256") && reason.contains(f.sha256),
        "{reason}"
    );
    // A truncated-but-valid-gzip file: wrong size.
    let short = idx::gzip_bytes(&idx::encode(&labels(2999, 0), false));
    let server = Server::start(move |_| Reply::Body(short.clone()));
    let (r, _) = run(&f, dest.path(), &opts(&[server.url("/m/")]));
    let reason = single_failure(r, dest.path());
    assert!(
        reason.contains("decompressed size is 3007 bytes"),
        "{reason}"
    );
}

#[test]
fn redirect_is_followed() {
    let (_, gz, f) = labels_file();
    let server = Server::start(move |path| match path {
        "/old/t10k-labels-idx1-ubyte.gz" => {
            Reply::Redirect("/new/t10k-labels-idx1-ubyte.gz".into())
        }
        "/new/t10k-labels-idx1-ubyte.gz" => Reply::Body(gz.clone()),
        "/loop/t10k-labels-idx1-ubyte.gz" => {
            Reply::Redirect("/loop/t10k-labels-idx1-ubyte.gz".into())
        }
        _ => Reply::Status(404),
    });
    let dest = tempfile::tempdir().expect("tempdir");
    let mut o = opts(&[server.url("/old/")]);
    o.max_redirects = 1;
    let (r, _) = run(&f, dest.path(), &o);
    let report = r.expect("redirect followed");
    assert_verified(dest.path(), &f);
    assert!(
        matches!(&report.files[0].outcome, FileOutcome::Fetched { source, .. } if source.contains("/old/"))
    );

    // A redirect loop fails after max_redirects.
    let dest = tempfile::tempdir().expect("tempdir");
    let (r, _) = run(&f, dest.path(), &opts(&[server.url("/loop/")]));
    let reason = single_failure(r, dest.path());
    assert!(reason.to_lowercase().contains("redirects"), "{reason}");

    // With max_redirects = 0 a redirect is a failure that says so.
    let mut o = opts(&[server.url("/old/")]);
    o.max_redirects = 0;
    let (r, _) = run(&f, dest.path(), &o);
    let reason = single_failure(r, dest.path());
    assert!(
        reason.contains("HTTP 302") && reason.contains("not followed"),
        "{reason}"
    );
}

#[test]
fn stalled_server_times_out() {
    let (_, gz, f) = labels_file();
    let body = gz.clone();
    let server = Server::start(move |path| {
        if path.starts_with("/silent/") {
            Reply::Stall(Duration::from_secs(10))
        } else {
            Reply::StallMidBody {
                body: body.clone(),
                sent: 20,
                wait: Duration::from_secs(10),
            }
        }
    });
    let dest = tempfile::tempdir().expect("tempdir");
    let start = Instant::now();
    let (r, _) = run(&f, dest.path(), &opts(&[server.url("/silent/")]));
    let reason = single_failure(r, dest.path());
    assert!(reason.contains("timed out"), "{reason}");
    let (r, _) = run(&f, dest.path(), &opts(&[server.url("/midway/")]));
    let reason = single_failure(r, dest.path());
    assert!(
        reason.contains("timed out") && reason.contains("after 20 of"),
        "{reason}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "timeouts took {:?}",
        start.elapsed()
    );
}

#[test]
fn connection_refused() {
    let (_, _, f) = labels_file();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port(); // closed again at once: nothing listens there
    let dest = tempfile::tempdir().expect("tempdir");
    let (r, _) = run(
        &f,
        dest.path(),
        &opts(&[format!("http://127.0.0.1:{port}/m/")]),
    );
    let reason = single_failure(r, dest.path());
    assert!(reason.contains("Connection Failed"), "{reason}");
}

#[test]
fn oversized_body_is_refused() {
    let (_, _, f) = labels_file();
    let server = Server::start(|_| Reply::Body(vec![0; 200_000]));
    let dest = tempfile::tempdir().expect("tempdir");
    let (r, _) = run(&f, dest.path(), &opts(&[server.url("/m/")]));
    let reason = single_failure(r, dest.path());
    assert!(reason.contains("announces 200000 bytes"), "{reason}");
}

#[test]
fn total_failure_lists_every_mirror_and_how_to_use_a_local_copy() {
    let (_, _, f) = labels_file();
    let server = Server::start(|p| {
        if p.starts_with("/a/") {
            Reply::Status(404)
        } else {
            Reply::Status(503)
        }
    });
    let dest = tempfile::tempdir().expect("tempdir");
    let empty = tempfile::tempdir().expect("tempdir");
    let o = opts(&[
        server.url("/a/"),
        server.url("/b/"),
        empty.path().display().to_string(),
    ]);
    let (r, events) = run(&f, dest.path(), &o);
    let e = r.expect_err("all fail");
    let msg = e.to_string();
    assert!(
        msg.contains(&dest.path().join(GZ).display().to_string()),
        "{msg}"
    );
    assert!(
        msg.contains(&format!(
            "{}: HTTP 404",
            server.url("/a/t10k-labels-idx1-ubyte.gz")
        )),
        "{msg}"
    );
    assert!(
        msg.contains(&format!(
            "{}: HTTP 503",
            server.url("/b/t10k-labels-idx1-ubyte.gz")
        )),
        "{msg}"
    );
    assert!(
        msg.contains(&empty.path().display().to_string()) && msg.contains("not found"),
        "{msg}"
    );
    assert!(msg.contains("set BP_MIRROR to a local copy"), "{msg}");
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, FetchEvent::Failed { .. }))
            .count(),
        3
    );
    assert_eq!(listing(dest.path()), Vec::<String>::new());
}

#[test]
fn verified_copy_is_not_fetched_again_unless_forced() {
    let (_, gz, f) = labels_file();
    let server = Server::start(move |_| Reply::Body(gz.clone()));
    let dest = tempfile::tempdir().expect("tempdir");
    let o = opts(&[server.url("/m/")]);
    let (r, _) = run(&f, dest.path(), &o);
    assert_eq!(r.expect("first").fetched_count(), 1);
    assert_eq!(server.hits.load(Ordering::SeqCst), 1);

    let (r, events) = run(&f, dest.path(), &o);
    let report = r.expect("second");
    assert!(report.nothing_fetched());
    assert_eq!(report.bytes_fetched(), 0);
    assert!(
        matches!(events[..], [FetchEvent::AlreadyVerified { .. }]),
        "{events:?}"
    );
    assert_eq!(
        server.hits.load(Ordering::SeqCst),
        1,
        "no request for a verified copy"
    );

    let mut forced = o.clone();
    forced.force = true;
    let (r, _) = run(&f, dest.path(), &forced);
    assert_eq!(r.expect("forced").fetched_count(), 1);
    assert_eq!(server.hits.load(Ordering::SeqCst), 2);
    assert_verified(dest.path(), &f);
}

#[test]
fn corrupt_existing_copy_is_replaced() {
    let (raw, gz, f) = labels_file();
    let src = tempfile::tempdir().expect("tempdir");
    std::fs::write(src.path().join(GZ), &gz).expect("write");
    let dest = tempfile::tempdir().expect("tempdir");
    // A half-written copy under the final name, as a naive downloader leaves it.
    std::fs::write(dest.path().join(GZ), &gz[..gz.len() / 2]).expect("write");
    // And a stale raw copy that would otherwise linger.
    std::fs::write(dest.path().join(NAME), &raw[..10]).expect("write");
    let (r, events) = run(&f, dest.path(), &opts(&[src.path().display().to_string()]));
    r.expect("replaced");
    assert!(events.iter().any(|e| matches!(e, FetchEvent::ExistingInvalid { problem, .. } if problem.contains("truncated gzip"))));
    assert_verified(dest.path(), &f);
}

#[test]
fn uncompressed_mirror_copy_is_stored_raw() {
    let (raw, _, f) = labels_file();
    let src = tempfile::tempdir().expect("tempdir");
    std::fs::write(src.path().join(NAME), &raw).expect("write");
    let dest = tempfile::tempdir().expect("tempdir");
    let (r, _) = run(&f, dest.path(), &opts(&[src.path().display().to_string()]));
    let report = r.expect("copied");
    assert_eq!(report.files[0].path, dest.path().join(NAME));
    assert_eq!(listing(dest.path()), vec![NAME.to_string()]);
    assert_eq!(std::fs::read(dest.path().join(NAME)).expect("read"), raw);
}

#[test]
fn directory_that_cannot_be_written() {
    let (_, gz, f) = labels_file();
    let src = tempfile::tempdir().expect("tempdir");
    std::fs::write(src.path().join(GZ), &gz).expect("write");
    let base = tempfile::tempdir().expect("tempdir");
    let file = base.path().join("a-file");
    std::fs::write(&file, b"x").expect("write");
    // The data directory would have to be created inside a regular file.
    let dest = file.join("mnist");
    let (r, _) = run(&f, &dest, &opts(&[src.path().display().to_string()]));
    let e = r.expect_err("cannot create");
    assert!(matches!(e, DataError::Io { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains(&dest.display().to_string())
            && msg.contains("cannot create the data directory"),
        "{msg}"
    );
    // The data directory is a regular file.
    let (r, _) = run(&f, &file, &opts(&[src.path().display().to_string()]));
    let e = r.expect_err("not a directory");
    assert!(e.to_string().contains(&file.display().to_string()), "{e}");
}

#[test]
fn concurrent_fetches_do_not_corrupt_each_other() {
    let (_, gz, f) = labels_file();
    let body = gz.clone();
    let server = Server::start(move |_| Reply::Body(body.clone()));
    let dest = tempfile::tempdir().expect("tempdir");
    let mut o = opts(&[server.url("/m/")]);
    o.force = true;
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| fetch_files(std::slice::from_ref(&f), dest.path(), &o, &mut |_| {}))
            })
            .collect();
        for h in handles {
            h.join().expect("thread").expect("each fetch succeeds");
        }
    });
    assert_verified(dest.path(), &f);
}

#[test]
fn mirror_strings() {
    assert!(matches!(
        "http://127.0.0.1:1/x".parse::<Mirror>(),
        Ok(Mirror::Url(_))
    ));
    assert!(matches!("/some/dir".parse::<Mirror>(), Ok(Mirror::Dir(_))));
    let e = "gopher://x".parse::<Mirror>().expect_err("unsupported");
    assert!(
        e.to_string().contains("unsupported mirror `gopher://x`"),
        "{e}"
    );
}

/// The real MNIST files served over loopback HTTP from the tests' cache, through
/// `fetch` itself: 404 on the first mirror, then the good one.
#[test]
fn real_mnist_over_http_after_a_404() {
    common::real_data(Dataset::Mnist);
    let base = common::file_server(common::real_data_root());
    let dest = tempfile::tempdir().expect("tempdir");
    let dir = dest.path().join("mnist");
    let mut o = opts(&[format!("{base}/nowhere/"), format!("{base}/mnist/")]);
    o.read_timeout = Duration::from_secs(10);
    let mut failures = 0;
    let report = fetch(Dataset::Mnist, &dir, &o, &mut |e| {
        if let FetchEvent::Failed { reason, .. } = e {
            assert!(reason.contains("HTTP 404"), "{reason}");
            failures += 1;
        }
    })
    .expect("fetched");
    assert_eq!(failures, 4);
    assert_eq!(report.fetched_count(), 4);
    assert!(report.files.iter().all(
        |r| matches!(&r.outcome, FileOutcome::Fetched { mirror, .. } if *mirror == o.mirrors[1])
    ));
    let data = bp_data::load_dir(&dir, Dataset::Mnist).expect("load");
    assert_eq!(data.train.labels()[..10], [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
    assert_eq!(data.test.len(), 10_000);
    // Again: already verified, nothing fetched, the server is not asked.
    let mut dead = o.clone();
    dead.mirrors = vec![Mirror::Url("http://127.0.0.1:9/".into())];
    let again = fetch(Dataset::Mnist, &dir, &dead, &mut |_| {}).expect("verified");
    assert!(again.nothing_fetched());
    // An IdxArray sanity check that the unused import stays used.
    let _ = IdxArray::new(vec![1], IdxData::U8(vec![0]));
}
