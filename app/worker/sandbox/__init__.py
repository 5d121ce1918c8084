"""Running untrusted PyTorch programs: a static check, then an allowlist interpreter."""
