"""The device harness, run on this machine: the shared command-line flags, the artifacts a run needs, the protocol
(jobs in rounds, models alternating, cool-down, results appended as they arrive) and `python -m android_bench`
(cli). The desktop studies (android_bench.studies) and the arm64 counts are its clients."""
