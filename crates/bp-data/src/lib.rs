//! A strict IDX (MNIST-format) parser and MNIST / Fashion-MNIST loader with a verifying, atomic downloader.
