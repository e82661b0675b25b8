"""SMMUv3 PRI queue and CMD_PRI_RESP (docs/ats_pri.md 1.6, 3.4), stage 2 of issue 9.

`attach_priq(smmu, agent, notify)` gives an SmmuV3 (already running ATS through tb/platform/smmu_ats.py):
* IDR0.ATS (b10) and IDR0.PRI (b16); CR0.PRIQEN (b1), acknowledged in CR0ACK;
* PRIQ_BASE 0xC0 (ADDR[51:5] | LOG2SIZE[4:0]), PRIQ_PROD 0x100C8 and PRIQ_CONS 0x100CC (page 1): index and
  wrap bit as the other queues, PROD.OVFLG b31 / CONS.OVACKFLG b31;
* each Page Request the device sends is written at the producer index as a 16-byte entry
  (tb/pcie/pri.PriqEntry: SID, SSID/SSV, PERM_READ/WRITE/PRIV/EXEC, PRG_LAST, PRG_IDX, ADDR), PROD advances
  and `notify()` wakes the kernel's PRIQ thread (instead of the PRIQ interrupt). With PRIQEN = 0 or the
  queue full the request is not queued, OVFLG is toggled (full only) and a last request is answered Success
  so that the device retries [SMMU §3.9.1, §8.1];
* CMD_PRI_RESP (0x41) sends a PRG Response: SUCC -> Success, DENY -> Invalid Request, FAIL -> Response
  Failure (mapping by name, docs/ats_pri.md 1.6: unverified), SSV -> with the PASID.
"""
from __future__ import annotations

from tb.pcie import pri

PRIQ_BASE, PRIQ_PROD, PRIQ_CONS = 0xC0, 0x100C8, 0x100CC
IDR0, CR0, CR0ACK = 0x00, 0x20, 0x24
IDR0_ATS, IDR0_PRI = 1 << 10, 1 << 16
CR0_PRIQEN = 1 << 1
Q_OVERFLOW = 1 << 31


def attach_priq(smmu, agent, notify=lambda: None) -> None:
    state = smmu.__dict__.setdefault("priq", {"base": 0, "prod": 0, "cons": 0, "en": False, "requests": [],
                                              "overflows": 0, "responses": []})
    smmu.REGISTER_WIDTHS = {**type(smmu).REGISTER_WIDTHS, PRIQ_BASE: 8, PRIQ_PROD: 4, PRIQ_CONS: 4}
    read, write, execute = smmu._read_register, smmu._write_register, smmu._execute

    def log2() -> int:
        return min(state["base"] & 0x1F, smmu.queue_bits)

    def _read_register(offset: int) -> int:
        if offset == PRIQ_BASE:
            return state["base"]
        if offset == PRIQ_PROD:
            return state["prod"]
        if offset == PRIQ_CONS:
            return state["cons"]
        value = read(offset)
        if offset == IDR0:
            value |= IDR0_ATS | IDR0_PRI
        elif offset in (CR0, CR0ACK):
            value |= CR0_PRIQEN if state["en"] else 0
        return value

    def _write_register(offset: int, value: int, written_mask: int) -> None:
        if offset == PRIQ_BASE:
            state["base"] = value & (((1 << 52) - 1) & ~0x1F | 0x1F)
        elif offset == PRIQ_PROD:
            state["prod"] = value & (Q_OVERFLOW | ((2 << log2()) - 1))
        elif offset == PRIQ_CONS:
            state["cons"] = value & (Q_OVERFLOW | ((2 << log2()) - 1))
        else:
            if offset == CR0:
                state["en"] = bool(value & CR0_PRIQEN)
            write(offset, value, written_mask)

    def page_request(tlp) -> None:
        req = tlp.page_request_fields()
        ent = pri.PriqEntry(sid=int(tlp.requester_id), ssid=tlp.pasid, page=req.page, prgi=req.prgi, read=req.r,
                            write=req.w, last=req.last, priv=tlp.pmr, exe=tlp.er)
        state["requests"].append(ent)
        n = log2()
        mask = (1 << n) - 1
        prod, cons = state["prod"], state["cons"]
        full = (prod & mask) == (cons & mask) and (prod >> n & 1) != (cons >> n & 1)
        if not state["en"] or full:
            state["overflows"] += 1
            if full:
                state["prod"] = (prod & ~Q_OVERFLOW) | (~cons & Q_OVERFLOW)
            if req.last:
                agent.send_prg_response(int(tlp.requester_id), tlp.pasid, req.prgi, pri.RESP_SUCCESS)
            return
        smmu.memory.write((state["base"] & ((1 << 52) - 1) & ~0x1F) + pri.PRIQ_ENT_BYTES * (prod & mask),
                          ent.pack())
        index = ((prod & ((2 << n) - 1)) + 1) & ((2 << n) - 1)
        state["prod"] = (prod & Q_OVERFLOW) | index
        notify()

    def _execute(command: int) -> bool:
        fields = pri.decode_cmd_pri_resp(command & ((1 << 64) - 1), command >> 64)
        if fields is None:
            return execute(command)
        sid, ssid, prgi, resp = fields
        if resp not in pri.SMMU_TO_PCIE:
            return False                                    # RESP 3 is reserved: CERROR_ILL
        smmu.invalidations.append(("pri-resp", sid, ssid, prgi, resp))
        state["responses"].append(fields)
        agent.send_prg_response(sid & 0xFFFF, ssid, prgi, pri.SMMU_TO_PCIE[resp])
        return True

    smmu._read_register = _read_register
    smmu._write_register = _write_register
    smmu._execute = _execute
    agent.page_request_handler = page_request
