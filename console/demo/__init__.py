"""`sluice demo`: in-process SSH workers on loopback, the sample jobs, and the screenshots taken on them."""
