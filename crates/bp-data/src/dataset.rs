//! The MNIST-family data sets: names, class names, files and their checksums.

use std::fmt;
use std::str::FromStr;

use crate::error::DataError;

/// An MNIST-family data set: 28x28 grey-level images in ten classes, stored as
/// four IDX files under the canonical names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dataset {
    /// The MNIST database of handwritten digits (LeCun, Cortes, Burges).
    Mnist,
    /// Zalando Research's Fashion-MNIST: ten classes of clothing.
    FashionMnist,
}

/// Which of a data set's four files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileKind {
    /// Training images (`train-images-idx3-ubyte`).
    TrainImages,
    /// Training labels (`train-labels-idx1-ubyte`).
    TrainLabels,
    /// Test images (`t10k-images-idx3-ubyte`).
    TestImages,
    /// Test labels (`t10k-labels-idx1-ubyte`).
    TestLabels,
}

impl FileKind {
    /// The four kinds, in the order [`Dataset::files`] lists them.
    pub const ALL: [FileKind; 4] = [
        FileKind::TrainImages,
        FileKind::TrainLabels,
        FileKind::TestImages,
        FileKind::TestLabels,
    ];

    /// The canonical file name, without `.gz`.
    pub fn file_name(self) -> &'static str {
        match self {
            FileKind::TrainImages => "train-images-idx3-ubyte",
            FileKind::TrainLabels => "train-labels-idx1-ubyte",
            FileKind::TestImages => "t10k-images-idx3-ubyte",
            FileKind::TestLabels => "t10k-labels-idx1-ubyte",
        }
    }
}

/// A file to verify or fetch: its canonical name, and the SHA-256 and length of
/// its decompressed bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DataFile {
    /// The canonical file name, without `.gz` (mirrors serve `<name>.gz`).
    pub name: &'static str,
    /// Lower-case hex SHA-256 of the decompressed IDX bytes.
    pub sha256: &'static str,
    /// Length of the decompressed IDX bytes.
    pub size: u64,
}

const TRAIN_IMAGES_SIZE: u64 = 16 + 60_000 * 28 * 28;
const TRAIN_LABELS_SIZE: u64 = 8 + 60_000;
const TEST_IMAGES_SIZE: u64 = 16 + 10_000 * 28 * 28;
const TEST_LABELS_SIZE: u64 = 8 + 10_000;

const fn file(kind: FileKind, sha256: &'static str) -> DataFile {
    let (name, size) = match kind {
        FileKind::TrainImages => ("train-images-idx3-ubyte", TRAIN_IMAGES_SIZE),
        FileKind::TrainLabels => ("train-labels-idx1-ubyte", TRAIN_LABELS_SIZE),
        FileKind::TestImages => ("t10k-images-idx3-ubyte", TEST_IMAGES_SIZE),
        FileKind::TestLabels => ("t10k-labels-idx1-ubyte", TEST_LABELS_SIZE),
    };
    DataFile { name, sha256, size }
}

const MNIST_FILES: [DataFile; 4] = [
    file(
        FileKind::TrainImages,
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    ),
    file(
        FileKind::TrainLabels,
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    ),
    file(
        FileKind::TestImages,
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    ),
    file(
        FileKind::TestLabels,
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    ),
];

const FASHION_FILES: [DataFile; 4] = [
    file(
        FileKind::TrainImages,
        "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    ),
    file(
        FileKind::TrainLabels,
        "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    ),
    file(
        FileKind::TestImages,
        "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    ),
    file(
        FileKind::TestLabels,
        "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    ),
];

const DIGITS: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
const FASHION: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

impl Dataset {
    /// Every data set, in declaration order.
    pub const ALL: [Dataset; 2] = [Dataset::Mnist, Dataset::FashionMnist];

    /// The short name used on the command line and as the directory name:
    /// `"mnist"` or `"fashion-mnist"`.
    pub fn name(&self) -> &'static str {
        match self {
            Dataset::Mnist => "mnist",
            Dataset::FashionMnist => "fashion-mnist",
        }
    }

    /// The display title: `"MNIST"` or `"Fashion-MNIST"`.
    pub fn title(&self) -> &'static str {
        match self {
            Dataset::Mnist => "MNIST",
            Dataset::FashionMnist => "Fashion-MNIST",
        }
    }

    /// The class names, indexed by label.
    pub fn class_names(&self) -> &'static [&'static str] {
        match self {
            Dataset::Mnist => &DIGITS,
            Dataset::FashionMnist => &FASHION,
        }
    }

    /// The number of classes (10).
    pub fn num_classes(&self) -> usize {
        self.class_names().len()
    }

    /// Image height and width in pixels: `(28, 28)`.
    pub fn image_shape(&self) -> (usize, usize) {
        (28, 28)
    }

    /// The four files with their checksums, in [`FileKind::ALL`] order.
    pub fn files(&self) -> &'static [DataFile; 4] {
        match self {
            Dataset::Mnist => &MNIST_FILES,
            Dataset::FashionMnist => &FASHION_FILES,
        }
    }

    /// One of the four files.
    pub fn file(&self, kind: FileKind) -> &'static DataFile {
        let i = match kind {
            FileKind::TrainImages => 0,
            FileKind::TrainLabels => 1,
            FileKind::TestImages => 2,
            FileKind::TestLabels => 3,
        };
        &self.files()[i]
    }

    /// Public mirrors that serve `<name>.gz` for each file, tried in this order.
    pub fn default_mirrors(&self) -> &'static [&'static str] {
        match self {
            Dataset::Mnist => &[
                "https://ossci-datasets.s3.amazonaws.com/mnist/",
                "https://storage.googleapis.com/cvdf-datasets/mnist/",
            ],
            Dataset::FashionMnist => &[
                "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
                "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
            ],
        }
    }
}

impl fmt::Display for Dataset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Dataset {
    type Err = DataError;

    /// Parses `mnist` or `fashion-mnist` (case-insensitive; `_` for `-` and
    /// `fashion` are accepted too).
    fn from_str(s: &str) -> Result<Dataset, DataError> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "mnist" => Ok(Dataset::Mnist),
            "fashion-mnist" | "fashionmnist" | "fashion" => Ok(Dataset::FashionMnist),
            _ => Err(DataError::UnknownDataset {
                name: s.to_string(),
            }),
        }
    }
}
