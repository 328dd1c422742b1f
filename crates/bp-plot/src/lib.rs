//! Accuracy and loss plots (PNG and SVG) for backprop training histories, rendered without system fonts or libraries.
