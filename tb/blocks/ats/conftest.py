# test_atc.py holds cocotb tests (run inside the simulator by test_block_ats.py), not pytest tests.
collect_ignore = ["test_atc.py", "test_inv.py", "test_pri.py"]
