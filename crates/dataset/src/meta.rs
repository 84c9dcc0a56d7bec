//! The `meta` entry: what the dataset is and the history of every tool that touched it.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Dataset description stored as UTF-8 JSON in the `meta` entry.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    /// Short dataset name, e.g. "cifar10" or "fashion-mnist".
    pub name: String,
    /// Class names; their count is the number of classes.
    pub classes: Vec<String>,
    /// Image layout of the image arrays; always "NHWC".
    #[serde(default = "default_layout")]
    pub layout: String,
    /// Where the data came from (archive, checksum, url...), as the fetch tool recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Value>,
    /// The randomization applied so far (written by `corrupt`); `None` means true data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corruption: Option<Corruption>,
    /// One record per tool that made or transformed the file, oldest first.
    #[serde(default)]
    pub history: Vec<HistoryRecord>,
    /// Fields written by other tools or versions, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn default_layout() -> String {
    "NHWC".to_string()
}

/// The paper's randomization tests, as applied to this file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Corruption {
    /// Label corruption probability p (1.0 = random labels); 0 when labels are true.
    #[serde(default)]
    pub labels: f64,
    /// Pixel corruption: "shuffle", "random" or "gaussian"; `None` when pixels are true.
    #[serde(default)]
    pub pixels: Option<String>,
    /// Further details (seeds, quantization, fraction of labels changed...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// What one tool did to the file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HistoryRecord {
    /// The tool's name, e.g. "corrupt".
    pub tool: String,
    /// The tool's version (its crate version).
    pub version: String,
    /// The command-line arguments, without the program name.
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// The seed the tool drew with, when it draws at random.
    pub seed: Option<u64>,
    /// `blake3:<hex>` of the input file, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_digest: Option<String>,
    #[serde(flatten)]
    /// Any other fields the tool records (counts, options), kept as JSON.
    pub extra: Map<String, Value>,
}

impl Meta {
    /// The description of a dataset `name` with these class names, no history.
    pub fn new(name: impl Into<String>, classes: Vec<String>) -> Meta {
        Meta {
            name: name.into(),
            classes,
            layout: default_layout(),
            ..Meta::default()
        }
    }

    /// The number of classes: the length of [`Meta::classes`].
    pub fn num_classes(&self) -> usize {
        self.classes.len()
    }
}
