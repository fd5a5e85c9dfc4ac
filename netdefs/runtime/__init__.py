"""Building and running: backend choice, define / build, engines and their sidecars, calibration, demo weights."""
