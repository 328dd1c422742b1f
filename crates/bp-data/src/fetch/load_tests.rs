//! `fetch_and_load`: one pass per file, raw copies, and the fallbacks when a copy
//! does not verify.

use super::*;
use crate::idx::{encode, gzip_bytes, IdxData};
use crate::load::{data_file_for, load_dir};

/// A generated set large enough that the training images are hashed on the
/// helper thread: (name, raw IDX bytes) in `FileKind::ALL` order.
fn generated() -> Vec<(&'static str, Vec<u8>)> {
    let images = |n: usize, seed: u8| {
        let px = (0..n * 784)
            .map(|i| if i % 5 == 0 { (i as u8) ^ seed } else { 0 })
            .collect();
        encode(
            &IdxArray::new(vec![n, 28, 28], IdxData::U8(px)).expect("images"),
            false,
        )
    };
    let labels = |n: usize| {
        let l = (0..n).map(|i| (i % 10) as u8).collect();
        encode(
            &IdxArray::new(vec![n], IdxData::U8(l)).expect("labels"),
            false,
        )
    };
    let names = crate::FileKind::ALL.map(|k| k.file_name());
    vec![
        (names[0], images(6000, 1)),
        (names[1], labels(6000)),
        (names[2], images(100, 2)),
        (names[3], labels(100)),
    ]
}

fn files_of(set: &[(&'static str, Vec<u8>)]) -> [DataFile; 4] {
    let f = |i: usize| data_file_for(set[i].0, &set[i].1);
    [f(0), f(1), f(2), f(3)]
}

fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

struct Case {
    set: Vec<(&'static str, Vec<u8>)>,
    files: [DataFile; 4],
    mirror: tempfile::TempDir,
    dest: tempfile::TempDir,
}

impl Case {
    fn new() -> Case {
        let set = generated();
        let files = files_of(&set);
        let mirror = tempfile::tempdir().expect("tempdir");
        for (name, raw) in &set {
            std::fs::write(mirror.path().join(format!("{name}.gz")), gzip_bytes(raw))
                .expect("write");
        }
        let dest = tempfile::tempdir().expect("tempdir");
        Case {
            set,
            files,
            mirror,
            dest,
        }
    }

    fn opts(&self, raw_copy: bool) -> FetchOptions {
        FetchOptions {
            mirrors: vec![Mirror::Dir(self.mirror.path().to_path_buf())],
            default_mirrors: false,
            raw_copy,
            ..FetchOptions::default()
        }
    }

    fn run(
        &self,
        opts: &FetchOptions,
    ) -> (Result<(FetchReport, MnistData), DataError>, Vec<FetchEvent>) {
        let mut events = Vec::new();
        let r = fetch_and_load_files(
            Dataset::Mnist,
            &self.files,
            self.dest.path(),
            opts,
            &mut |e| events.push(e),
        );
        (r, events)
    }

    fn expected(&self) -> MnistData {
        load_dir(self.mirror.path(), Dataset::Mnist).expect("the mirror loads")
    }
}

fn count(events: &[FetchEvent], pred: impl Fn(&FetchEvent) -> bool) -> usize {
    events.iter().filter(|e| pred(e)).count()
}

#[test]
fn fetches_loads_and_keeps_verified_raw_copies() {
    let c = Case::new();
    let (r, events) = c.run(&c.opts(true));
    let (report, data) = r.expect("fetched and loaded");
    assert_eq!(report.fetched_count(), 4);
    assert_eq!(data, c.expected());
    assert_eq!(
        count(&events, |e| matches!(e, FetchEvent::RawCopyWritten { .. })),
        4
    );
    let mut names: Vec<String> = c
        .set
        .iter()
        .flat_map(|(n, _)| [n.to_string(), format!("{n}.gz")])
        .collect();
    names.sort();
    assert_eq!(listing(c.dest.path()), names, "no temporary file left");
    for (name, raw) in &c.set {
        assert_eq!(
            &std::fs::read(c.dest.path().join(name)).expect("raw copy"),
            raw
        );
    }

    // Again: every file verifies from its raw copy; nothing fetched or written.
    let (r, events) = c.run(&c.opts(true));
    let (report, data) = r.expect("second run");
    assert!(report.nothing_fetched());
    assert_eq!(data, c.expected());
    for f in &report.files {
        assert_eq!(f.path, c.dest.path().join(f.file), "read from the raw copy");
    }
    assert_eq!(
        count(&events, |e| matches!(e, FetchEvent::AlreadyVerified { .. })),
        4
    );
    assert_eq!(events.len(), 4, "{events:?}");

    // Without raw copies wanted, the .gz is read first and nothing is written.
    let (r, events) = c.run(&c.opts(false));
    let (report, data) = r.expect("gzip first");
    assert_eq!(data, c.expected());
    for f in &report.files {
        assert_eq!(f.path, c.dest.path().join(format!("{}.gz", f.file)));
    }
    assert_eq!(events.len(), 4, "{events:?}");
}

#[test]
fn a_raw_copy_damaged_in_place_is_passed_over_and_rewritten() {
    let c = Case::new();
    c.run(&c.opts(true)).0.expect("first run");
    let raw_path = c.dest.path().join(c.set[0].0);
    let mut bytes = std::fs::read(&raw_path).expect("read");
    // Same length, one pixel changed deep in the payload (the helper thread's part).
    let i = bytes.len() - 1000;
    bytes[i] ^= 0x40;
    std::fs::write(&raw_path, &bytes).expect("write");

    let (r, events) = c.run(&c.opts(true));
    let (report, data) = r.expect("loaded from the .gz");
    assert!(report.nothing_fetched());
    assert_eq!(data, c.expected(), "the damaged copy is not what loaded");
    assert_eq!(
        report.files[0].path,
        c.dest.path().join(format!("{}.gz", c.set[0].0))
    );
    assert!(
        matches!(&events[..2], [FetchEvent::AlreadyVerified { .. }, FetchEvent::RawCopyWritten { path, .. }] if *path == raw_path),
        "{events:?}"
    );
    assert_eq!(
        std::fs::read(&raw_path).expect("read"),
        c.set[0].1,
        "rewritten"
    );
}

#[test]
fn copies_that_do_not_verify_are_fetched_again() {
    let c = Case::new();
    c.run(&c.opts(true)).0.expect("first run");
    // Both copies of the training images damaged; the test labels' .gz truncated
    // and its raw copy gone.
    let gz = c.dest.path().join(format!("{}.gz", c.set[0].0));
    let mut bytes = std::fs::read(&gz).expect("read");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&gz, &bytes).expect("write");
    std::fs::write(c.dest.path().join(c.set[0].0), b"<html>").expect("write");
    let gz3 = c.dest.path().join(format!("{}.gz", c.set[3].0));
    let bytes = std::fs::read(&gz3).expect("read");
    std::fs::write(&gz3, &bytes[..bytes.len() / 2]).expect("write");
    std::fs::remove_file(c.dest.path().join(c.set[3].0)).expect("remove");

    let (r, events) = c.run(&c.opts(true));
    let (report, data) = r.expect("fetched again");
    assert_eq!(data, c.expected());
    assert_eq!(report.fetched_count(), 2);
    let invalid: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            FetchEvent::ExistingInvalid { path, problem, .. } => {
                Some((path.clone(), problem.clone()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(invalid.len(), 2, "{events:?}");
    // The raw copy is tried first, and its problem reported.
    assert_eq!(invalid[0].0, c.dest.path().join(c.set[0].0));
    assert!(invalid[0].1.contains("HTML"), "{}", invalid[0].1);
    assert_eq!(invalid[1].0, gz3);
    assert!(invalid[1].1.contains("truncated gzip"), "{}", invalid[1].1);
    for ((name, raw), file) in c.set.iter().zip(&c.files) {
        assert_eq!(
            &std::fs::read(c.dest.path().join(name)).expect("raw copy"),
            raw
        );
        crate::verify_file(&c.dest.path().join(format!("{name}.gz")), file)
            .expect("the .gz was replaced by a verified one");
    }
}

#[test]
fn force_fetches_everything_and_unwritable_raw_copies_are_reported() {
    let c = Case::new();
    c.run(&c.opts(true)).0.expect("first run");
    let mut forced = c.opts(true);
    forced.force = true;
    let (r, _) = c.run(&forced);
    let (report, data) = r.expect("forced");
    assert_eq!(report.fetched_count(), 4);
    assert_eq!(data, c.expected());

    // A raw copy that cannot be written (a directory in the way) is reported; the
    // data still loads.
    let raw_path = c.dest.path().join(c.set[1].0);
    std::fs::remove_file(&raw_path).expect("remove");
    std::fs::create_dir(&raw_path).expect("mkdir");
    let (r, events) = c.run(&c.opts(true));
    assert_eq!(r.expect("loads anyway").1, c.expected());
    assert!(
        events
            .iter()
            .any(|e| matches!(e, FetchEvent::RawCopyFailed { path, .. } if *path == raw_path)),
        "{events:?}"
    );
    assert!(
        !listing(c.dest.path()).iter().any(|n| n.ends_with(".part")),
        "no temporary file left"
    );
}

#[test]
fn missing_everywhere_is_a_fetch_error() {
    let c = Case::new();
    let mut o = c.opts(true);
    o.mirrors = vec![Mirror::Dir(c.dest.path().join("nowhere"))];
    let (r, _) = c.run(&o);
    assert!(matches!(r, Err(DataError::FetchFailed { .. })), "{r:?}");
}
