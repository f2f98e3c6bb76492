// placeholder, replaced by the core test runner
