"""hello_driver: hello_device.c through the Python driver model (fw/imsdev/driver), run against the RTL with

    make fw-run PROG=fw/examples/hello_driver.py PLATFORM=x86      (or PLATFORM=arm)

fw-run calls main(ops) in the bench's bridge thread; ops is the bench's DeviceOps (tb/driver_ops.py), so
every register access, ENQCMD and interrupt wait below is performed by the simulation. Return 0 (or
None) for success.
"""
from imsdev.driver import imsdev_probe, imsdev_remove
from imsdev.driver.init import wq_alloc_ims_irq
from imsdev.driver.submit import idxd_alloc_desc, idxd_free_desc, idxd_submit_desc, prep_desc, wait_for_completion
from imsdev.driver.uapi import DSA_COMP_SUCCESS, DSA_OPCODE_MEMMOVE

PASID = 0x1234          # the submitter's address space (ENQCMD sends it in the PASID prefix)
SIZE = 256


def main(ops) -> int:
    # probe: config space, BARs, DEV_ID check, PASID, MSI-X (vector 0 errors + one per WQ), ENABLE_DEVICE
    idxd = imsdev_probe(ops)
    print(f"hello_driver: {idxd.num_wq} WQ(s) of depth {idxd.wq_depth}, {idxd.ims_per_wq} IMS slots per WQ, "
          f"{idxd.msix_vectors} MSI-X vectors")

    # one shared WQ (ENQCMD) and an IMS interrupt of it, bound to our PASID
    wq = idxd.wqs[0]
    idxd.wq_configure(wq, size=1, dedicated=False)
    idxd.wq_enable(wq)
    ie = wq_alloc_ims_irq(idxd, wq, pasid=PASID)

    # MEMMOVE with a completion record and an interrupt through the IMS slot
    buf = ops.mem_alloc(4096, 4096)
    src, dst = buf, buf + 1024
    data = bytes((i * 7 + 1) & 0xFF for i in range(SIZE))
    ops.mem_write(src, data)
    d = prep_desc(idxd_alloc_desc(wq), DSA_OPCODE_MEMMOVE, src=src, dst=dst, size=SIZE, ie=ie)
    rc = idxd_submit_desc(idxd, wq, d, pasid=PASID)
    if rc:
        print(f"hello_driver: FAILED: submit returned {rc}")
        return 1
    rec = wait_for_completion(idxd, d)          # the IMS interrupt's handler reads the record
    if rec.status != DSA_COMP_SUCCESS or rec.bytes_completed != SIZE:
        print(f"hello_driver: FAILED: record {rec.status_name}, {rec.bytes_completed} bytes")
        return 1
    if ops.mem_read(dst, SIZE) != data:
        print("hello_driver: FAILED: destination differs from the source")
        return 1
    print(f"hello_driver: MEMMOVE of {SIZE} bytes done: {rec.status_name}, "
          f"{ie.desc.count} IMS interrupt(s), {len(idxd.sw_errors)} SWERR")
    idxd_free_desc(wq, d)
    imsdev_remove(idxd)
    return 0
