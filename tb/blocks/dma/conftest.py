# test_dma.py holds cocotb tests (run inside the simulator by test_block_dma.py), not pytest tests.
collect_ignore = ["test_dma.py"]
