"""Desktop studies, run on this machine and clients of the harness pieces: efficiency (our artifacts against the
peer paths, per FLOP), precision (fp32 vs int8 per format), flops (exact FLOPs and the roofline) and op_profile
(where the time goes, per op type). Each is `python -m android_bench.studies.<name>`, with the shared flags."""
