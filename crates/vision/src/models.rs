//! The model files and their manifest (`models/manifest.json`): which ONNX
//! file each model id names, its SHA-256 and size, and what it takes and
//! gives. Files are checked against the manifest before any engine sees
//! them, so a corrupt or swapped model is refused instead of run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::runtime::{Runtime, Session};
use crate::VisionError;

/// Model ids used by the pipeline.
pub mod ids {
    /// BlazeFace short-range detector, 128×128 (selfie distance).
    pub const BLAZEFACE_SHORT_128: &str = "blazeface-short-128";
    /// BlazeFace full-range detector, 192×192 (far faces).
    pub const BLAZEFACE_FULL_192: &str = "blazeface-full-192";
    /// MediaPipe FaceMesh, 468 3-D landmarks.
    pub const FACEMESH_468: &str = "facemesh-468";
    /// dlib ResNet face embedding, 128-D.
    pub const DLIB_RESNET_128: &str = "dlib-resnet-128";
    /// 512-D face embedding (faceplugin `fr_feature`).
    pub const FR_FEATURE_512: &str = "fr-feature-512";
    /// [`FR_FEATURE_512`] quantised to int8 (`tools/models/quantize.py`).
    pub const FR_FEATURE_512_INT8: &str = "fr-feature-512-int8";
    /// Passive anti-spoof classifier (faceplugin `fr_liveness`).
    pub const FR_LIVENESS: &str = "fr-liveness";
    /// Silent-Face MiniFASNetV2 (Minivision), 80×80 on a 2.7× crop.
    pub const MINIFASNET_V2_80: &str = "minifasnet-v2-80";
    /// Silent-Face MiniFASNetV1SE (Minivision), 80×80 on a 4.0× crop.
    pub const MINIFASNET_V1SE_80: &str = "minifasnet-v1se-80";
}

/// The manifest's file name inside the models directory.
pub const MANIFEST_FILE: &str = "manifest.json";

/// Environment variable naming the models directory.
pub const MODELS_DIR_ENV: &str = "FACEGATE_MODELS_DIR";

/// `models/manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub models: Vec<ModelEntry>,
    /// Fields this crate does not interpret.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// One model of the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelEntry {
    /// Stable id, e.g. [`ids::BLAZEFACE_SHORT_128`].
    pub id: String,
    /// File name inside the models directory.
    pub file: String,
    /// Lower-case hex SHA-256 of the file.
    pub sha256: String,
    /// File size in bytes, checked when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// The model's input as the manifest describes it (name, shape,
    /// layout, value range…); see [`ModelEntry::input_shape`].
    #[serde(default)]
    pub input: serde_json::Value,
    /// The model's outputs, in model order.
    #[serde(default)]
    pub outputs: Vec<serde_json::Value>,
    /// Fields this crate does not interpret (source, licence, …).
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl ModelEntry {
    /// The input shape from `input.shape`. A dimension that is not a
    /// non-negative integer (a symbolic batch such as `"N"`, `-1` or
    /// `null`) is taken as 1, the single image the pipeline feeds. A model
    /// whose height or width is free (the OCR models) gives a typical
    /// shape as `input.example_shape`, which is then used instead.
    pub fn input_shape(&self) -> Option<Vec<usize>> {
        let dims = self
            .input
            .get("example_shape")
            .or_else(|| self.input.get("shape"))?
            .as_array()?;
        Some(
            dims.iter()
                .map(|d| {
                    d.as_u64()
                        .and_then(|d| usize::try_from(d).ok())
                        .filter(|&d| d > 0)
                        .unwrap_or(1)
                })
                .collect(),
        )
    }
}

impl Manifest {
    pub fn parse(json: &str) -> Result<Self, VisionError> {
        let manifest: Manifest = serde_json::from_str(json).map_err(|e| VisionError::Model {
            model: MANIFEST_FILE.to_owned(),
            detail: format!("the manifest is not valid: {e}"),
        })?;
        for entry in &manifest.models {
            manifest.validate(entry)?;
        }
        Ok(manifest)
    }

    fn validate(&self, entry: &ModelEntry) -> Result<(), VisionError> {
        let bad = |detail: String| VisionError::Model {
            model: entry.id.clone(),
            detail,
        };
        if self.models.iter().filter(|m| m.id == entry.id).count() > 1 {
            return Err(bad("the id appears more than once in the manifest".into()));
        }
        // The file must stay inside the models directory.
        let name = Path::new(&entry.file);
        if entry.file.is_empty()
            || name.components().count() != 1
            || name.file_name().is_none_or(|n| n != name.as_os_str())
        {
            return Err(bad(format!(
                "file {:?} must be a plain file name",
                entry.file
            )));
        }
        if entry.sha256.len() != 64 || !entry.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad(format!(
                "sha256 {:?} is not 64 hex digits",
                entry.sha256
            )));
        }
        Ok(())
    }

    pub fn get(&self, id: &str) -> Option<&ModelEntry> {
        self.models.iter().find(|m| m.id == id)
    }
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The models directory: `$FACEGATE_MODELS_DIR` if set, else the
/// repository's `models/` (found from this crate's source location, for
/// development and tests).
pub fn default_models_dir() -> PathBuf {
    match std::env::var_os(MODELS_DIR_ENV).filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models"),
    }
}

/// A models directory with its parsed manifest.
#[derive(Debug, Clone)]
pub struct ModelStore {
    dir: PathBuf,
    manifest: Manifest,
}

impl ModelStore {
    /// Reads and checks `dir/manifest.json`. Model files are read (and
    /// verified) only when loaded.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, VisionError> {
        let dir = dir.into();
        let path = dir.join(MANIFEST_FILE);
        let json = std::fs::read_to_string(&path).map_err(|e| VisionError::Model {
            model: MANIFEST_FILE.to_owned(),
            detail: format!("cannot read {}: {e}", path.display()),
        })?;
        let manifest = Manifest::parse(&json)?;
        Ok(Self { dir, manifest })
    }

    /// [`ModelStore::open`] on [`default_models_dir`].
    pub fn open_default() -> Result<Self, VisionError> {
        Self::open(default_models_dir())
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The manifest entry of `id`.
    pub fn entry(&self, id: &str) -> Result<&ModelEntry, VisionError> {
        self.manifest.get(id).ok_or_else(|| VisionError::Model {
            model: id.to_owned(),
            detail: format!(
                "not in the manifest {}",
                self.dir.join(MANIFEST_FILE).display()
            ),
        })
    }

    /// The path of `id`'s file.
    pub fn path(&self, id: &str) -> Result<PathBuf, VisionError> {
        Ok(self.dir.join(&self.entry(id)?.file))
    }

    /// Reads `id`'s file and checks its size and SHA-256 against the
    /// manifest.
    pub fn read_verified(&self, id: &str) -> Result<Vec<u8>, VisionError> {
        let entry = self.entry(id)?;
        let path = self.dir.join(&entry.file);
        let bad = |detail: String| VisionError::Model {
            model: id.to_owned(),
            detail,
        };
        let bytes = std::fs::read(&path)
            .map_err(|e| bad(format!("cannot read {}: {e}", path.display())))?;
        if let Some(expected) = entry.bytes {
            if bytes.len() as u64 != expected {
                return Err(bad(format!(
                    "{} has {} bytes, the manifest says {expected}",
                    path.display(),
                    bytes.len()
                )));
            }
        }
        let actual = sha256_hex(&bytes);
        if !actual.eq_ignore_ascii_case(&entry.sha256) {
            return Err(bad(format!(
                "checksum mismatch for {}: sha256 is {actual}, the manifest says {}",
                path.display(),
                entry.sha256
            )));
        }
        Ok(bytes)
    }

    /// Verifies `id`'s file and loads it into `runtime`.
    pub fn load(&self, runtime: &dyn Runtime, id: &str) -> Result<Box<dyn Session>, VisionError> {
        let bytes = self.read_verified(id)?;
        let started = std::time::Instant::now();
        let session = runtime.load(id, &bytes)?;
        tracing::debug!(
            model = id,
            runtime = %runtime.kind(),
            ms = started.elapsed().as_secs_f64() * 1e3,
            "loaded model"
        );
        Ok(session)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn entry_json(file: &str, sha: &str) -> String {
        format!(
            r#"{{"models":[{{"id":"m","file":"{file}","sha256":"{sha}","bytes":3,
                "input":{{"name":"x","shape":[1,"N",4,-1]}},"outputs":[{{"name":"y"}}],
                "licence":"Apache-2.0"}}],"version":1}}"#
        )
    }

    #[test]
    fn the_manifest_keeps_unknown_fields_and_reads_the_input_shape() {
        let sha = sha256_hex(b"abc");
        let m = Manifest::parse(&entry_json("m.onnx", &sha)).unwrap();
        let e = m.get("m").unwrap();
        assert_eq!(e.input_shape(), Some(vec![1, 1, 4, 1]));
        let mut free = e.clone();
        free.input =
            serde_json::json!({"shape": [1, 3, "H", "W"], "example_shape": [1, 3, 96, 320]});
        assert_eq!(free.input_shape(), Some(vec![1, 3, 96, 320]));
        assert_eq!(e.extra["licence"], "Apache-2.0");
        assert_eq!(m.extra["version"], 1);
        assert!(m.get("other").is_none());
    }

    #[test]
    fn the_manifest_refuses_paths_and_bad_checksums() {
        let sha = sha256_hex(b"abc");
        for file in ["../m.onnx", "a/m.onnx", "/m.onnx", ""] {
            assert!(
                Manifest::parse(&entry_json(file, &sha)).is_err(),
                "{file:?} accepted"
            );
        }
        assert!(Manifest::parse(&entry_json("m.onnx", "abc")).is_err());
    }

    #[test]
    fn sha256_hex_matches_a_known_vector() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
