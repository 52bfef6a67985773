"""Great Expectations suites kept as code, one module per stage, and the runner that applies them."""
