"""One router per vendor API, each mounted under its own prefix by `sandbox.app`."""
