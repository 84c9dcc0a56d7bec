//! How a run's training set was altered: the `corruption` object that `corrupt` writes into the
//! dataset's meta, which `train` copies into `config.json` (`dataset.corruption`) and
//! `summary.json` (`corruption`).

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// The dataset's `corruption` object. Absent (or `null`) means true labels and true pixels.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Corruption {
    /// Probability p with which each training label was redrawn uniformly at random
    /// (0 = true labels, 1 = random labels).
    #[serde(default, deserialize_with = "probability")]
    pub labels: f64,
    /// Pixel corruption, `None` for true pixels.
    #[serde(default)]
    pub pixels: Option<Pixels>,
    /// Everything else `corrupt` records (seed, `labels_changed`, `labels_redrawn`, `quantize`,
    /// `gaussian_mean`, `gaussian_std`, `passes`), kept as written.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A pixel corruption of the paper (the same for train and test images).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pixels {
    /// One random permutation of pixel positions applied to every image.
    #[serde(alias = "shuffled")]
    Shuffle,
    /// An independent permutation for each image.
    Random,
    /// Every image replaced by Gaussian noise with the dataset's mean and variance.
    Gaussian,
}

impl Pixels {
    /// The name `corrupt` writes: "shuffle", "random", "gaussian".
    pub fn name(self) -> &'static str {
        match self {
            Pixels::Shuffle => "shuffle",
            Pixels::Random => "random",
            Pixels::Gaussian => "gaussian",
        }
    }

    /// The paper's name: "shuffled pixels", "random pixels", "Gaussian".
    pub fn describe(self) -> &'static str {
        match self {
            Pixels::Shuffle => "shuffled pixels",
            Pixels::Random => "random pixels",
            Pixels::Gaussian => "Gaussian",
        }
    }
}

fn probability<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let p = Option::<f64>::deserialize(d)?.unwrap_or(0.0);
    if !(0.0..=1.0).contains(&p) {
        return Err(serde::de::Error::custom(format!(
            "labels: expected a probability in [0, 1], got {p}"
        )));
    }
    Ok(p)
}

impl Corruption {
    /// Parses a `corruption` value; `null` or absent is no corruption.
    pub fn from_value(v: Option<&Value>) -> Result<Option<Corruption>, serde_json::Error> {
        match v {
            None | Some(Value::Null) => Ok(None),
            Some(v) => Corruption::deserialize(v).map(Some),
        }
    }

    /// True labels and true pixels.
    pub fn is_none(&self) -> bool {
        self.labels == 0.0 && self.pixels.is_none()
    }

    /// Fraction of training labels that differ from the clean label (`labels_changed`), if recorded.
    pub fn labels_changed(&self) -> Option<f64> {
        self.extra.get("labels_changed").and_then(Value::as_f64)
    }

    /// Fraction of training labels that were redrawn (`labels_redrawn`), if recorded; about
    /// 1/K of them drew their true class again.
    pub fn labels_redrawn(&self) -> Option<f64> {
        self.extra.get("labels_redrawn").and_then(Value::as_f64)
    }

    /// The seed of the last `corrupt` pass, if recorded.
    pub fn seed(&self) -> Option<u64> {
        self.extra.get("seed").and_then(Value::as_u64)
    }

    /// The five curves of the paper's Figure 1a; partially corrupted labels are not one of them.
    pub fn figure1a_kind(&self) -> Option<&'static str> {
        match (self.pixels, self.labels) {
            (None, 0.0) => Some("true labels"),
            (None, p) if p >= 1.0 => Some("random labels"),
            (Some(px), 0.0) => Some(px.describe()),
            _ => None,
        }
    }

    /// Human label for tables and legends: "true labels", "labels p=0.4", "random labels",
    /// "shuffled pixels + labels p=0.2", ...
    pub fn describe(&self) -> String {
        let labels = if self.labels == 0.0 {
            None
        } else if self.labels >= 1.0 {
            Some("random labels".to_string())
        } else {
            Some(format!("labels p={}", fmt_num(self.labels)))
        };
        match (self.pixels.map(Pixels::describe), labels) {
            (None, None) => "true labels".to_string(),
            (None, Some(l)) => l,
            (Some(p), None) => p.to_string(),
            (Some(p), Some(l)) => format!("{p} + {l}"),
        }
    }
}

/// Shortest decimal form of a setting (0.4, 0.0005, 1).
pub fn fmt_num(x: f64) -> String {
    let s = format!("{x}");
    if s.len() > 8 { format!("{x:e}") } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_what_corrupt_writes_and_keeps_the_rest() {
        let v = json!({"labels": 0.4, "pixels": null, "seed": 3, "labels_changed": 0.36,
                       "labels_redrawn": 0.4, "passes": [{"labels": 0.4, "seed": 3}]});
        let c = Corruption::from_value(Some(&v)).unwrap().unwrap();
        assert_eq!((c.labels, c.pixels), (0.4, None));
        assert_eq!(c.labels_changed(), Some(0.36));
        assert_eq!(c.labels_redrawn(), Some(0.4));
        assert_eq!(c.seed(), Some(3));
        assert_eq!(
            serde_json::to_value(&c).unwrap(),
            v,
            "round trip keeps every key"
        );
        assert_eq!(c.describe(), "labels p=0.4");
    }

    #[test]
    fn pixel_kinds_and_bad_values() {
        let c: Corruption = serde_json::from_value(json!({"pixels": "shuffled"})).unwrap();
        assert_eq!(c.pixels, Some(Pixels::Shuffle));
        assert_eq!(c.figure1a_kind(), Some("shuffled pixels"));
        assert_eq!(Corruption::from_value(Some(&Value::Null)).unwrap(), None);
        assert!(serde_json::from_value::<Corruption>(json!({"pixels": "blur"})).is_err());
        let err = serde_json::from_value::<Corruption>(json!({"labels": 1.5})).unwrap_err();
        assert!(err.to_string().contains("probability"), "{err}");
    }
}
