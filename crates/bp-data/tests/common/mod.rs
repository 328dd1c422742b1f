//! Helpers shared by the integration tests: generated data sets, the real data
//! sets (fetched once into a cache), and loopback HTTP servers.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use bp_data::idx::{self, IdxArray, IdxData};
use bp_data::{DataFile, FileKind};
use sha2::{Digest, Sha256};

/// The cache of real data sets shared by every test of the run: one folder per
/// data set under cargo's test scratch folder.
#[cfg(feature = "download")]
pub fn real_data_root() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("real-data")
}

/// A folder holding `dataset`'s four verified files, fetched (at most once per
/// test process, and only when missing) by the product's own fetch: from
/// `$BP_MIRROR/<dataset>`, then the public mirrors. Without either it panics,
/// failing the test (never skipping it), with one line that says so.
#[cfg(feature = "download")]
pub fn real_data(dataset: bp_data::Dataset) -> PathBuf {
    use bp_data::fetch::{fetch, FetchOptions};
    use std::sync::Mutex;
    // The data sets already fetched and verified by this process.
    static DONE: Mutex<Vec<bp_data::Dataset>> = Mutex::new(Vec::new());
    let dir = real_data_root().join(dataset.name());
    let mut done = DONE.lock().unwrap_or_else(|e| e.into_inner());
    if done.contains(&dataset) {
        return dir;
    }
    let result = FetchOptions::default()
        .with_env_mirror(dataset)
        .and_then(|opts| fetch(dataset, &dir, &opts, &mut |_| {}));
    if let Err(e) = result {
        panic!(
            "the real {dataset} data set is needed and could not be fetched \
             (set BP_MIRROR to a local copy holding {dataset}/): {}",
            e.to_string().replace('\n', " ")
        );
    }
    done.push(dataset);
    dir
}

/// A deterministic generated split: `n` 28x28 images and labels (`i % 10`).
pub fn images(n: usize, seed: u8) -> IdxArray {
    let pixels = (0..n * 784)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect();
    IdxArray::new(vec![n, 28, 28], IdxData::U8(pixels)).expect("valid images")
}

/// Labels `(i + seed) % 10` for `n` examples.
pub fn labels(n: usize, seed: u8) -> IdxArray {
    IdxArray::new(
        vec![n],
        IdxData::U8((0..n).map(|i| ((i + seed as usize) % 10) as u8).collect()),
    )
    .expect("valid labels")
}

/// The raw IDX bytes of a generated set's four files, in `FileKind::ALL` order.
pub fn generated_set(train: usize, test: usize) -> Vec<(&'static str, Vec<u8>)> {
    vec![
        (
            FileKind::TrainImages.file_name(),
            idx::encode(&images(train, 1), false),
        ),
        (
            FileKind::TrainLabels.file_name(),
            idx::encode(&labels(train, 0), false),
        ),
        (
            FileKind::TestImages.file_name(),
            idx::encode(&images(test, 2), false),
        ),
        (
            FileKind::TestLabels.file_name(),
            idx::encode(&labels(test, 3), false),
        ),
    ]
}

/// Writes a generated set into `dir` (gzip-compressed as `<name>.gz` if `gzip`).
pub fn write_set(dir: &Path, set: &[(&'static str, Vec<u8>)], gzip: bool) {
    std::fs::create_dir_all(dir).expect("create dir");
    for (name, raw) in set {
        if gzip {
            std::fs::write(dir.join(format!("{name}.gz")), idx::gzip_bytes(raw)).expect("write");
        } else {
            std::fs::write(dir.join(name), raw).expect("write");
        }
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A `DataFile` describing `raw` under `name` (leaked: tests only).
pub fn data_file(name: &str, raw: &[u8]) -> DataFile {
    DataFile {
        name: Box::leak(name.to_string().into_boxed_str()),
        sha256: Box::leak(sha256_hex(raw).into_boxed_str()),
        size: raw.len() as u64,
    }
}

/// The names of the entries of `dir`, sorted.
pub fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .map(|e| {
                e.expect("dir entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    v.sort();
    v
}

/// What a route of the test server answers.
#[derive(Clone)]
pub enum Reply {
    /// 200 with this body (and its Content-Length).
    Body(Vec<u8>),
    /// This status, with a short text body.
    Status(u16),
    /// A 302 redirect to this path.
    Redirect(String),
    /// 200 announcing `len` bytes, sends the first `sent`, then closes the connection.
    CloseMidBody { body: Vec<u8>, sent: usize },
    /// Accepts the request, sends nothing for this long, then closes.
    Stall(Duration),
    /// Sends the headers and `sent` bytes of the body, then nothing for this long.
    StallMidBody {
        body: Vec<u8>,
        sent: usize,
        wait: Duration,
    },
}

/// A loopback HTTP/1.1 server on 127.0.0.1 that answers each path through `route`.
/// Written on std::net so that it can misbehave in ways a real server would not.
pub struct Server {
    pub base: String,
    pub hits: Arc<AtomicUsize>,
}

impl Server {
    pub fn start(route: impl Fn(&str) -> Reply + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let hits = Arc::new(AtomicUsize::new(0));
        let route = Arc::new(route);
        let h = hits.clone();
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let route = route.clone();
                h.fetch_add(1, Ordering::SeqCst);
                thread::spawn(move || {
                    let _ = serve(stream, &*route);
                });
            }
        });
        Server { base, hits }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

fn serve(mut s: TcpStream, route: &dyn Fn(&str) -> Reply) -> std::io::Result<()> {
    // Read the request head.
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if s.read(&mut byte)? == 0 {
            return Ok(());
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
    let ok = |len: usize| {
        format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n")
    };
    match route(&path) {
        Reply::Body(b) => {
            s.write_all(ok(b.len()).as_bytes())?;
            s.write_all(&b)?;
        }
        Reply::Status(code) => {
            let body = format!("<html><body>error {code}</body></html>");
            write!(
                s,
                "HTTP/1.1 {code} Oops\r\nContent-Length: {}\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )?;
        }
        Reply::Redirect(to) => {
            write!(
                s,
                "HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )?;
        }
        Reply::CloseMidBody { body, sent } => {
            s.write_all(ok(body.len()).as_bytes())?;
            s.write_all(&body[..sent])?;
            s.flush()?;
            s.shutdown(std::net::Shutdown::Both)?;
        }
        Reply::Stall(d) => thread::sleep(d),
        Reply::StallMidBody { body, sent, wait } => {
            s.write_all(ok(body.len()).as_bytes())?;
            s.write_all(&body[..sent])?;
            s.flush()?;
            thread::sleep(wait);
        }
    }
    s.flush()
}

/// Serves the files of `root` read-only over HTTP on 127.0.0.1 with tiny_http:
/// `GET /<relative path>`; 404 for anything missing.
pub fn file_server(root: PathBuf) -> String {
    let server = tiny_http::Server::http("127.0.0.1:0").expect("bind loopback");
    let base = format!(
        "http://{}",
        server.server_addr().to_ip().expect("ip address")
    );
    thread::spawn(move || {
        for req in server.incoming_requests() {
            let rel = req.url().trim_start_matches('/').to_string();
            let path = root.join(&rel);
            let ok = !rel.split('/').any(|c| c == "..") && path.is_file();
            let _ = if ok {
                match std::fs::File::open(&path) {
                    Ok(f) => req.respond(tiny_http::Response::from_file(f)),
                    Err(_) => req.respond(tiny_http::Response::empty(500)),
                }
            } else {
                req.respond(tiny_http::Response::from_string("not found").with_status_code(404))
            };
        }
    });
    base
}
