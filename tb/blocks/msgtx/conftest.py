# test_msgtx.py holds cocotb tests (run inside the simulator by test_block_msgtx.py), not pytest tests.
collect_ignore = ["test_msgtx.py"]
