//! A busybox image built on the spot from the host's static busybox (there
//! is no registry to pull from), as one tarball that every engine loads:
//! an OCI image layout (`oci-layout`, `index.json`, `blobs/`) that also
//! carries docker's `manifest.json`, as `docker save` writes since 25.0.
//! podman and docker read it as a docker archive, `ctr images import` as an
//! OCI layout.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;

/// The name the image is loaded under.
pub const IMAGE: &str = "localhost/rcr-busybox:latest";

/// Applets the tests use, linked to busybox.
const APPLETS: &[&str] = &[
    "sh", "cat", "echo", "head", "sleep", "ls", "id", "tty", "true", "false", "ps", "top", "kill",
];

/// Builds the image tarball in `dir` and returns its path.
pub fn build(dir: &Path) -> Result<PathBuf, String> {
    let busybox = rcr_testkit::busybox_path().ok_or("no static busybox on this host")?;
    let rootfs = dir.join("rootfs");
    for sub in ["bin", "etc", "tmp", "proc", "sys", "dev", "root"] {
        fs::create_dir_all(rootfs.join(sub)).map_err(|e| format!("create rootfs: {e}"))?;
    }
    fs::copy(&busybox, rootfs.join("bin/busybox")).map_err(|e| format!("copy busybox: {e}"))?;
    for applet in APPLETS {
        symlink("busybox", rootfs.join("bin").join(applet))
            .map_err(|e| format!("link {applet}: {e}"))?;
    }
    fs::write(rootfs.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n")
        .and_then(|()| fs::write(rootfs.join("etc/group"), "root:x:0:\n"))
        .map_err(|e| format!("write /etc: {e}"))?;

    let layout = dir.join("layout");
    let blobs = layout.join("blobs/sha256");
    fs::create_dir_all(&blobs).map_err(|e| format!("create {}: {e}", blobs.display()))?;
    let layer_tar = dir.join("layer.tar");
    tar(&rootfs, &layer_tar)?;
    let layer = fs::read(&layer_tar).map_err(|e| format!("read layer: {e}"))?;
    let layer_digest = add_blob(&blobs, &layer)?;

    let config = serde_json::to_vec(&json!({
        "architecture": "amd64",
        "os": "linux",
        "config": { "Env": ["PATH=/bin"], "Cmd": ["sh"], "WorkingDir": "/" },
        "rootfs": { "type": "layers", "diff_ids": [format!("sha256:{layer_digest}")] },
        "history": [{ "created_by": "rcr engine tests: the host's static busybox" }],
    }))
    .expect("json serializes");
    let config_digest = add_blob(&blobs, &config)?;
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": format!("sha256:{config_digest}"),
            "size": config.len(),
        },
        "layers": [{
            "mediaType": "application/vnd.oci.image.layer.v1.tar",
            "digest": format!("sha256:{layer_digest}"),
            "size": layer.len(),
        }],
    }))
    .expect("json serializes");
    let manifest_digest = add_blob(&blobs, &manifest)?;

    let index = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": format!("sha256:{manifest_digest}"),
            "size": manifest.len(),
            "platform": { "architecture": "amd64", "os": "linux" },
            "annotations": {
                "io.containerd.image.name": IMAGE,
                "org.opencontainers.image.ref.name": "latest",
            },
        }],
    });
    let docker_manifest = json!([{
        "Config": format!("blobs/sha256/{config_digest}"),
        "RepoTags": [IMAGE],
        "Layers": [format!("blobs/sha256/{layer_digest}")],
    }]);
    for (name, doc) in [
        ("index.json", index),
        ("manifest.json", docker_manifest),
        ("oci-layout", json!({ "imageLayoutVersion": "1.0.0" })),
    ] {
        fs::write(layout.join(name), doc.to_string()).map_err(|e| format!("write {name}: {e}"))?;
    }
    let image = dir.join("rcr-busybox.tar");
    tar(&layout, &image)?;
    Ok(image)
}

/// Stores `data` under its digest; returns the hex digest.
fn add_blob(blobs: &Path, data: &[u8]) -> Result<String, String> {
    let tmp = blobs.join("incoming");
    fs::write(&tmp, data).map_err(|e| format!("write blob: {e}"))?;
    let out =
        Command::new("sha256sum").arg(&tmp).output().map_err(|e| format!("run sha256sum: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let digest = text.split_whitespace().next().filter(|d| d.len() == 64 && out.status.success());
    let digest = digest.ok_or_else(|| format!("sha256sum failed: {text}"))?.to_owned();
    fs::rename(&tmp, blobs.join(&digest)).map_err(|e| format!("store blob: {e}"))?;
    Ok(digest)
}

/// A reproducible tar of `dir`'s contents, owned by root.
fn tar(dir: &Path, out: &Path) -> Result<(), String> {
    let status = Command::new("tar")
        .args(["--sort=name", "--owner=0", "--group=0", "--numeric-owner", "--mtime=@0"])
        .arg("-cf")
        .arg(out)
        .arg("-C")
        .arg(dir)
        .arg(".")
        .status()
        .map_err(|e| format!("run tar: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("tar {} failed ({status})", dir.display()))
    }
}
