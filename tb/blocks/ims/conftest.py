# test_ims.py holds cocotb tests (run inside the simulator by test_block_ims.py), not pytest tests.
collect_ignore = ["test_ims.py"]
