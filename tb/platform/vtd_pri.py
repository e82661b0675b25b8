"""VT-d page request queue and page group response (docs/ats_pri.md 1.6, 3.4), stage 2 of issue 9.

`attach_prq(unit, agent, notify)` gives a VtdDmarUnit (already running ATS through tb/platform/vtd_ats.py):
* ECAP.PRS (b29) and ECAP.DT (b2) set;
* registers PQH 0xC0 and PQT 0xC8 (byte offsets into the queue, multiples of 32: Linux masks them with
  PRQ_RING_MASK), PQA 0xD0 (queue base | size order: 4 KiB << order, Linux writes `phys | PRQ_ORDER`),
  PRS 0xDC: PPR b0 (a page request is pending), PRO b1 (overflow; the bit position is recalled, unverified),
  both RW1C;
* each Page Request the device sends (AtsAgent.page_request_handler) is written at PQA + PQT as a 32-byte
  `struct page_req_dsc` (tb/pcie/pri.VtdPageRequest), PQT advances, PPR is set and `notify()` wakes the
  kernel's PRQ thread. Queue full (PQT + 32 = PQH): PRO is set, the request is not queued and, if it is the
  last of its group, the unit answers Success itself so the device retries (SMMU §8.1's rule; VT-d's own
  behaviour unverified);
* QI type 9 (page group response) sends a PRG Response (with the PASID when PASID_P) through the agent.
Not modelled: PECTL/PEDATA/PEADDR (the bench calls `notify` instead of an interrupt), the drain bit of the
wait descriptor (the kernel code waits on the bench's queue instead).
"""
from __future__ import annotations

from tb.pcie import pri

PQH_REG, PQT_REG, PQA_REG, PRS_REG = 0xC0, 0xC8, 0xD0, 0xDC
PRS_PPR, PRS_PRO = 1 << 0, 1 << 1
ECAP_DT = 1 << 2
ECAP_PRS = 1 << 29
ECAP_REG = 0x10


def attach_prq(unit, agent, notify=lambda: None) -> None:
    state = unit.__dict__.setdefault("prq", {"pqh": 0, "pqt": 0, "pqa": 0, "prs": 0, "requests": [],
                                             "overflows": 0, "responses": []})
    unit.REGISTER_WIDTHS = {**type(unit).REGISTER_WIDTHS, PQH_REG: 8, PQT_REG: 8, PQA_REG: 8, PRS_REG: 4}
    read, write, execute = unit._read_register, unit._write_register, unit._execute_descriptor

    def size() -> int:
        return 0x1000 << (state["pqa"] & 7)

    def _read_register(offset: int) -> int:
        if offset == PQH_REG:
            return state["pqh"]
        if offset == PQT_REG:
            return state["pqt"]
        if offset == PQA_REG:
            return state["pqa"]
        if offset == PRS_REG:
            return state["prs"]
        value = read(offset)
        if offset == ECAP_REG:
            value |= ECAP_PRS | ECAP_DT
        return value

    def _write_register(offset: int, value: int, written_mask: int) -> None:
        if offset == PQH_REG:
            state["pqh"] = value & (size() - 1) & ~0x1F
        elif offset == PQT_REG:
            state["pqt"] = value & (size() - 1) & ~0x1F
        elif offset == PQA_REG:
            state["pqa"] = value & (~0xFE0 & ((1 << 64) - 1))
        elif offset == PRS_REG:
            state["prs"] &= ~(value & written_mask & (PRS_PPR | PRS_PRO))
        else:
            write(offset, value, written_mask)

    def page_request(tlp) -> None:
        req = tlp.page_request_fields()
        desc = pri.VtdPageRequest(rid=int(tlp.requester_id), pasid=tlp.pasid, page=req.page, prgi=req.prgi,
                                  rd=req.r, wr=req.w, lpig=req.last, exe=tlp.er, pm=tlp.pmr)
        state["requests"].append(desc)
        nxt = (state["pqt"] + pri.VTD_PRQ_DESC_BYTES) & (size() - 1)
        if not state["pqa"] & ~0xFFF or nxt == state["pqh"]:
            state["prs"] |= PRS_PRO
            state["overflows"] += 1
            if req.last:
                agent.send_prg_response(int(tlp.requester_id), tlp.pasid, req.prgi, pri.RESP_SUCCESS)
            return
        unit.memory.write((state["pqa"] & ~0xFFF) + state["pqt"], desc.pack())
        state["pqt"] = nxt
        state["prs"] |= PRS_PPR
        notify()

    def _execute_descriptor(descriptor: int) -> bool:
        fields = pri.decode_vtd_page_group_response(descriptor & ((1 << 64) - 1), descriptor >> 64)
        if fields is None:
            return execute(descriptor)
        rid, pasid, code, prgi, lpig = fields
        unit.invalidations.append(("page-group-response", rid, pasid, prgi, code))
        state["responses"].append(fields)
        agent.send_prg_response(rid, pasid, prgi, code)
        return True

    unit._read_register = _read_register
    unit._write_register = _write_register
    unit._execute_descriptor = _execute_descriptor
    agent.page_request_handler = page_request
