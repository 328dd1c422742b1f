//! Helpers shared by the workspace-level end-to-end tests in `tests/tests/`.
