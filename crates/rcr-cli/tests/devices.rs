//! End-to-end tests of the container's /dev (default devices, symlinks,
//! `linux.devices`) and of `linux.maskedPaths` and `linux.readonlyPaths`.

mod common;

use std::fs;

use common::*;
use serde_json::json;

const EROFS: i64 = libc::EROFS as i64;

#[test]
fn default_devices() {
    if !require_root("default_devices") {
        return;
    }
    let rcr = rcr();
    let bundle = Bundle::busybox();
    let devices = [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ];
    let paths: Vec<String> = devices.iter().map(|(name, _, _)| format!("/dev/{name}")).collect();
    let links = ["/dev/fd", "/dev/stdin", "/dev/stdout", "/dev/stderr", "/dev/ptmx"];
    let mut args = vec!["stat"];
    args.extend(paths.iter().map(String::as_str));
    args.extend(links);
    bundle.set_args(&probe_args(&args));
    let out = probe_report(&run_stdout(&rcr, &bundle));

    for ((_, major, minor), path) in devices.iter().zip(&paths) {
        let st = &out[path.as_str()];
        assert_eq!(st["kind"], "char", "{path}: {st:#}");
        assert_eq!((&st["major"], &st["minor"]), (&json!(major), &json!(minor)), "{path}: {st:#}");
        assert_eq!(st["mode"], "0666", "{path}: {st:#}");
        assert_eq!((&st["uid"], &st["gid"]), (&json!(0), &json!(0)), "{path}: {st:#}");
    }
    for (link, target) in links.iter().zip([
        "/proc/self/fd",
        "/proc/self/fd/0",
        "/proc/self/fd/1",
        "/proc/self/fd/2",
        "pts/ptmx",
    ]) {
        let st = &out[*link];
        assert_eq!(
            (&st["kind"], &st["link"]),
            (&json!("symlink"), &json!(target)),
            "{link}: {st:#}"
        );
    }

    // The nodes work: /dev/zero reads zeros, /dev/null swallows writes.
    bundle.set_args(&["sh", "-c", "head -c 4 /dev/zero | wc -c; echo gone > /dev/null && echo ok"]);
    assert_eq!(run_stdout(&rcr, &bundle), "4\nok\n");
}

#[test]
fn spec_devices() {
    if !require_root("spec_devices") {
        return;
    }
    let rcr = rcr();
    let bundle = Bundle::busybox();
    bundle.edit(|c| {
        c["linux"]["devices"] = json!([
            {"path": "/dev/mychar", "type": "c", "major": 1, "minor": 3, "fileMode": 0o620,
             "uid": 1000, "gid": 5},
            {"path": "/dev/myblk", "type": "b", "major": 7, "minor": 200, "fileMode": 0o600,
             "uid": 0, "gid": 6},
            {"path": "/dev/myfifo", "type": "p", "fileMode": 0o640},
            {"path": "/dev/nested/dir/zero", "type": "c", "major": 1, "minor": 5},
            // Replaces the default /dev/null.
            {"path": "/dev/null", "type": "c", "major": 1, "minor": 3, "fileMode": 0o600}
        ]);
    });
    bundle.set_args(&probe_args(&[
        "stat",
        "/dev/mychar",
        "/dev/myblk",
        "/dev/myfifo",
        "/dev/nested/dir/zero",
        "/dev/null",
    ]));
    let out = probe_report(&run_stdout(&rcr, &bundle));
    let check =
        |path: &str, kind: &str, dev: Option<(u64, u64)>, mode: &str, uid: u32, gid: u32| {
            let st = &out[path];
            assert_eq!(st["kind"], kind, "{path}: {st:#}");
            if let Some((major, minor)) = dev {
                assert_eq!(
                    (&st["major"], &st["minor"]),
                    (&json!(major), &json!(minor)),
                    "{path}: {st:#}"
                );
            }
            assert_eq!(st["mode"], mode, "{path}: {st:#}");
            assert_eq!((&st["uid"], &st["gid"]), (&json!(uid), &json!(gid)), "{path}: {st:#}");
        };
    check("/dev/mychar", "char", Some((1, 3)), "0620", 1000, 5);
    check("/dev/myblk", "block", Some((7, 200)), "0600", 0, 6);
    check("/dev/myfifo", "fifo", None, "0640", 0, 0);
    check("/dev/nested/dir/zero", "char", Some((1, 5)), "0666", 0, 0);
    check("/dev/null", "char", Some((1, 3)), "0600", 0, 0);
}

#[test]
fn masked_paths() {
    if !require_root("masked_paths") {
        return;
    }
    let rcr = rcr();
    let bundle = Bundle::busybox();
    let rootfs = bundle.rootfs();
    fs::create_dir_all(rootfs.join("secret/dir/inner")).unwrap();
    fs::write(rootfs.join("secret/file"), "secret file").unwrap();
    fs::write(rootfs.join("secret/dir/inner/x"), "secret in a dir").unwrap();
    bundle.edit(|c| {
        c["root"]["readonly"] = json!(false);
        let masked = c["linux"]["maskedPaths"].as_array_mut().unwrap();
        masked.extend([json!("/secret/file"), json!("/secret/dir"), json!("/does/not/exist")]);
    });
    let script = "/rcr-probe read /secret/file /proc/keys /proc/timer_list; \
                  /rcr-probe ls /secret/dir; \
                  /rcr-probe write /secret/dir/new /secret/file; \
                  /rcr-probe ls /proc/acpi";
    bundle.set_args(&["sh", "-c", script]);
    let lines = run_lines(&rcr, &bundle);
    assert_eq!(lines.len(), 4, "{lines:#?}");
    let read = &lines[0];
    assert_eq!(read["/secret/file"]["content"], "", "{read:#}");
    for proc_file in ["/proc/keys", "/proc/timer_list"] {
        let r = &read[proc_file];
        // Masked to an empty file (or absent on this kernel).
        assert!(r["content"] == "" || r["errno"] == libc::ENOENT, "{proc_file}: {r:#}");
    }
    assert_eq!(lines[1], json!([]), "the masked dir shows its contents");
    let write = &lines[2];
    assert_eq!(write["/secret/dir/new"]["errno"], EROFS, "{write:#}");
    // /dev/null stands in for a masked file: writes vanish.
    assert_eq!(write["/secret/file"]["ok"], true, "{write:#}");
    assert_eq!(fs::read_to_string(rootfs.join("secret/file")).unwrap(), "secret file");
    if fs::metadata("/proc/acpi").is_ok() {
        assert_eq!(lines[3], json!([]));
    }
}

#[test]
fn readonly_paths() {
    if !require_root("readonly_paths") {
        return;
    }
    let rcr = rcr();
    let bundle = Bundle::busybox();
    fs::create_dir_all(bundle.rootfs().join("frozen/sub")).unwrap();
    fs::write(bundle.rootfs().join("frozen/sub/file"), "old").unwrap();
    bundle.edit(|c| {
        c["root"]["readonly"] = json!(false);
        let paths = c["linux"]["readonlyPaths"].as_array_mut().unwrap();
        paths.extend([json!("/frozen"), json!("/missing/path")]);
    });
    bundle.set_args(&probe_args(&[
        "write",
        "/frozen/new",
        "/frozen/sub/file",
        "/proc/sys/kernel/hostname",
        "/tmp/elsewhere",
    ]));
    let out = probe_report(&run_stdout(&rcr, &bundle));
    assert_eq!(out["/frozen/new"]["errno"], EROFS, "{out:#}");
    assert_eq!(out["/frozen/sub/file"]["errno"], EROFS, "{out:#}");
    assert_eq!(out["/proc/sys/kernel/hostname"]["errno"], EROFS, "{out:#}");
    assert_eq!(out["/tmp/elsewhere"]["ok"], true, "{out:#}");

    bundle.set_args(&probe_args(&[]));
    let report = run_probe(&rcr, &bundle);
    for point in ["/frozen", "/proc/sys", "/proc/bus"] {
        if point != "/frozen" && fs::metadata(point).is_err() {
            continue;
        }
        assert!(has_option(must_mount(&report, point), "ro"), "{point}: {report:#}");
    }
}

#[test]
fn readonly_device_nodes_and_fifos() {
    if !require_root("readonly_device_nodes_and_fifos") {
        return;
    }
    // What runtime-tools' linux_readonly_paths does: a device node and a
    // fifo made read-only. Opening them to read their mount flags would fail
    // (the device) or block forever (the fifo).
    let rcr = rcr();
    let bundle = Bundle::busybox();
    bundle.edit(|c| {
        c["linux"]["devices"] = json!([
            {"path": "/dev/ro-block", "type": "b", "major": 0, "minor": 0, "fileMode": 432},
            {"path": "/dev/ro-fifo", "type": "p", "fileMode": 432}]);
        let paths = c["linux"]["readonlyPaths"].as_array_mut().unwrap();
        paths.extend([json!("/dev/ro-block"), json!("/dev/ro-fifo")]);
    });
    bundle.set_args(&probe_args(&[]));
    let mut child = rcr
        .cmd(&["run", "--bundle", bundle.path_str(), &Rcr::unique_id("ro-dev")])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let done = wait_until(std::time::Duration::from_secs(20), || {
        child.try_wait().ok().flatten().is_some()
    });
    if !done {
        let _ = child.kill();
        panic!("run hung making a fifo read-only");
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let report = probe_report(&String::from_utf8_lossy(&out.stdout));
    for point in ["/dev/ro-block", "/dev/ro-fifo"] {
        assert!(has_option(must_mount(&report, point), "ro"), "{point}: {report:#}");
    }
}
