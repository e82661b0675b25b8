"""Testplan: which cocotb test module checks which feature, on which configurations and platforms.

`make sim` runs every entry on every configuration and platform it names. Add a module here when you
add one under tb/tests/; docs/testplan.md is written from this list by sim/run.py.
"""
from dataclasses import dataclass


# Blocks a module checks: RTL directories under rtl/ and "platform" (the Python host models in tb/platform).
# The mutation campaign (sim/mutation) runs a mutant of block B only against the modules that name B.
ALL_RTL = ("link", "regs", "msix", "ims", "wq", "engine", "dma", "common", "top")


# Verification stages (OpenTitan's): V1 basic behaviour, V2 every feature complete with its corner cases,
# V3 stress (random mixes of traffic and control events, many seeds).
STAGES = ("V1", "V2", "V3")
# Seeds per stage when the regression is reseeded (`make sim RESEED=1`): more for what is random.
RESEEDS = {"V1": 1, "V2": 3, "V3": 10}
# Covergroups of tb/coverage/model.py.
COVERGROUPS = ("interrupts", "platform", "messages", "vectors", "descriptors", "data", "portals", "commands",
               "streams", "batch", "ats", "pri")


@dataclass(frozen=True)
class Entry:
    module: str
    configs: tuple
    features: tuple
    platforms: tuple = (None,)
    blocks: tuple = ALL_RTL
    stage: str = "V2"
    covergroups: tuple = ()       # the functional coverage that closes these features

    def __post_init__(self):
        if self.stage not in STAGES:
            raise ValueError(f"{self.module}: stage {self.stage!r} not one of {STAGES}")
        unknown = set(self.covergroups) - set(COVERGROUPS)
        if unknown:
            raise ValueError(f"{self.module}: unknown covergroups {sorted(unknown)}")

    @property
    def reseeds(self) -> int:
        return RESEEDS[self.stage]


# Every configuration of sim/configs.py: the regression runs each module on all of them.
ALL_CONFIGS = ("default", "small", "wide")
# The register map's upper corner (16 WQs, 4096 IMS entries) on the modules whose behaviour scales with the
# WQ and IMS counts: registers and holes, portals, WQ commands, per-WQ IMS completion interrupts, interrupt
# handles, arbitration and traffic. The rest is independent of NUM_WQ past default's 8.
WITH_MAX = ALL_CONFIGS + ("max",)

TESTPLAN = (
    Entry("tb.tests.link.test_enumeration", WITH_MAX, (
        "enumeration through the root complex: IDs, BAR sizing, capability walk (PCIe, MSI-X, PASID)",
        "BAR0 and BAR2 moved above 4 GiB (root port's 64-bit window): every host request has a 4DW header; CSR, "
        "MSI-X table (QWORD) and message, IMS completion interrupt, ERR_ADDR of a bad access, ENQCMD, MOVDIR64B "
        "and a portal read's SWERR offset all decoded right; the old addresses answer UR",
        "BAR2 at an address aligned only to its own size: every WQ's portal still at BAR2 + n*0x1000, the "
        "SWERR offset is the offset inside BAR2",
        "the bench's own wait, Bench.cycles(n), ends on the n-th rising edge after the call like ClockCycles, "
        "called at a rising edge, a falling edge or between edges",
        "a configuration write (MSI-X Enable/Function Mask, Bus Master Enable) completes to software only once "
        "its cfg_* inputs hold the new value",
        "configuration inside the root complex: the root port answers and takes its own registers, an empty "
        "device number on the root bus answers UR (all ones), the device below answers through the port; "
        "answered without TLPs, it matches the package's TLP path for every DWORD of the root port, reads of "
        "1-3 bytes at every header offset, and writes through either path read back through the other",
        "a one-TLP BAR read run in the caller's task gives what the package's one-task-per-TLP read gives "
        "(bytes, or the same error) for 1-8 bytes at every offset of a CSR pair, the MSI-X table and across "
        "4 KiB (two TLPs: the package's own read)",
    ), blocks=("link", "top", "wq"), stage="V1", covergroups=("streams", "portals")),
    Entry("tb.tests.link.test_ordering", ALL_CONFIGS, (
        "PCIe ordering at the egress: mask then read back never sees a message of that vector after the read "
        "completion (messages decided before the mask arrive first, later triggers pend)",
        "a status read after DRAIN_WQ never overtakes the descriptors' data and completion records",
        "the link's configuration path stays behind posted MMIO writes queued before it",
        "in every test: no completion is taken before a posted TLP shown earlier (tb/pcie/ordering.py)",
    ), blocks=("link", "msix", "wq", "engine", "dma", "top"), stage="V2", covergroups=("streams", "messages")),
    Entry("tb.tests.regs.test_registers", WITH_MAX, (
        "every CSR: reset value, access type (RO/RW/W1C/W1S), reserved bits",
        "power-up: the clock runs 64 cycles before the first reset on random register state with every input "
        "but the rx valids and FLR random; no simulation check fires (each is armed by a reset) and every CSR "
        "reads its reset value after the reset",
        "unmapped BAR0 offsets read 0; bad sizes answered with CA / dropped and logged",
        "QWORD and DWORD access; read-after-posted-write ordering",
        "a QWORD write is two DWORD accesses with First and Last DW BE: every partial value of either half to an "
        "MSI-X entry drops that half only (MMIO_ERR_PARTIAL at its first enabled byte)",
        "ERR_ADDR is the refused access's first enabled byte; a zero-length read returns zeros, not the register",
        "W1C bits of INT_CAUSE and ERR clear with their own bit only; a DMWr to BAR0 is UR (MMIO_ERR_UNSUPPORTED)",
    ), blocks=("link", "regs", "msix", "top", "common"), stage="V1", covergroups=("streams",)),
    Entry("tb.tests.msix.test_msix", ALL_CONFIGS, (
        "MSI-X table/PBA reset values (also after FLR following use)",
        "vectors 0, 1, 31, 32, 63, 64, 100, last: alone and all together",
        "function mask, enable=0 pends (a second request still replays once), per-vector mask/pending/replay "
        "exactly once",
        "a masked pending vector never delays the replay of an unmasked one",
        "3DW and 4DW message writes; idle/backpressure on every stream",
        "the 3DW/4DW boundary exactly: 0xFFFF_FFFC -> 3DW, exactly 4 GiB -> 4DW with the whole address",
        "Bus Master Enable = 0 pends every vector (masks untouched; a second request, or unmasking a vector "
        "already pending, sends nothing); setting it replays each exactly once, under every pause mode",
        "no torn messages: an entry rewritten in every DW order under back-to-back triggers; unmasked: the old "
        "pair until Vector Control Mask=0, never a mix, ERR MSIX_UNMASKED_WRITE; masked / Function Mask: the "
        "replay and later messages carry the new pair, nothing logged",
        "dev_idle through a Function Mask replay scan: high with only masked-pending vectors, low every cycle from "
        "the unmask until the last replayed message (a masked pending QWORD and empty QWORDs between), and "
        "Bench.settle() begun at the first message returns after the last",
    ), blocks=("link", "msix", "top", "common"), stage="V2", covergroups=("interrupts", "messages", "vectors", "streams")),
    Entry("tb.tests.platform.test_platform_interrupts", ALL_CONFIGS, (
        "MSI-X vectors 0, 1, 31, 32, 63, 64, 100, last end to end through the platform: irq-domain allocation, "
        "Linux-order programming, each delivered exactly once to the expected (CPU, vector) / (redistributor, LPI)",
        "masked + pending + unmask replay through the platform (also after an affinity change while masked)",
        "affinity change under traffic: old target before, new after, no loss/duplicate, MSI-X entry unchanged",
        "interrupt scoreboard: lost/duplicate/misrouted/spurious/stray all zero, every fault expected",
    ), platforms=("x86", "arm"), blocks=("link", "msix", "top", "common", "platform"), stage="V2", covergroups=("platform", "interrupts", "vectors")),
    Entry("tb.tests.platform.test_sva", ALL_CONFIGS, (
        "DMA through the platform IOMMU per PASID (VT-d scalable-mode first level / SMMUv3 stage 1, opt-in "
        "dma_translation): two processes with the same virtual source, destination and record addresses on "
        "different physical pages submit MEMMOVE/MEMFILL at once on one shared WQ (ENQCMD, own PASIDs); each "
        "process's whole mapped memory byte-exact, no IOMMU fault",
        "translation faults: unmapped source (whole, and from mid-buffer) -> UR, record 0x03 (page fault) with fault address "
        "= source + bytes completed; read-only destination page (whole, and from mid-buffer) -> write dropped, "
        "record success (posted writes); one IOMMU fault per faulting TLP with exact reason, SID/StreamID, "
        "PASID/SubstreamID, R/W and address, in the FRCD registers / SMMU event queue",
        "unbind while idle: a later descriptor with the old PASID faults on its read and its record write "
        "(PASID entry not present / C_BAD_CD), touches none of the old pages; the other process keeps working",
        "process exit under traffic: A stops, DRAIN_PASID(A), unbind; no TLP with A's PASID after the drain's "
        "completion, every A descriptor complete, no fault, B's traffic untouched",
        "IMS entries bound to each process's PASID with platform interrupts: each fires for its own process only; "
        "B naming A's entry: no interrupt, no pending, SWERR IMS_PASID with B's PASID",
        "the host's per-page translation on its own: a read across two discontiguous pages, a read into an "
        "unmapped page (one UR, one fault), a write into a read-only page (first page written only)",
        "C library bind (imsdev_sva_bind / imsdev_sva_unbind over ops->sva_bind/sva_unbind): two processes "
        "with the same virtual layout bound in C submit with imsdev_enqcmd and their returned PASIDs on one "
        "shared WQ, both spaces byte-exact; A unbound in C under B's C traffic: DRAIN_PASID then the "
        "platform unbind, no TLP with A's PASID after the drain's completion, B unaffected, no fault",
        "C bind refusals, nothing left bound: NULL callbacks and PASID capability disabled (also in config "
        "space behind the library) -> -EOPNOTSUPP; unknown mm -> the platform's -EINVAL; a PASID at or "
        "above the device's Max PASID Width -> -EINVAL, handed back, never on the link; a second bind is "
        "a second reference; unbind of an unbound handle -> -EINVAL",
    ), platforms=("x86", "arm"), blocks=("platform", "dma", "engine", "wq", "top"), stage="V2",
        covergroups=("platform", "descriptors", "data")),
    Entry("tb.tests.platform.test_ats", ("default", "small"), (
        "T1 ATS capability after PASID (QDEP 0, Page Aligned 1), CAP3.ATS, pci_enable_ats drives cfg_ats_en/stu, "
        "FLR clears ATS Control",
        "T2 one Translation Request per page (MRd AT=01b, Length 2, page address, PASID), ATC hits for the same "
        "pages, every DMA TLP AT=10b at the process's physical pages, PASID-keyed ATC (same VA, two processes)",
        "T4 kernel unmap -> Invalidate Request (PASID, page) -> Invalidate Completion (ITag, CC 1, Device ID); "
        "next access misses; no-PASID, everything and unknown-PASID invalidations complete",
        "T6 no-BOF faults through ATS: unmapped source first page / mid-buffer (0x03, exact bytes and fault "
        "address, nothing written past bytes_completed), read-only / unmapped destination 0x83 bytes 0",
        "T10 Translation Completion UR / CA -> 0x22 (bit 7 on the destination side); RRS, poisoned, Length 4, "
        "Byte Count 16, SC without data on the read side -> 0x22 bytes 0, then a clean translation works",
        "T2 capacity: ATS_ENTRIES + 1 pages, first pass one miss per page, second pass >= pages - entries misses",
        "T11 32 Invalidate Requests outstanding (every ITag) accepted and completed once each; answered while "
        "ATS is disabled",
        "T14 ATS disabled: untranslated DMA; re-enabled: the ATC starts empty",
        "T5 unmaps under a stream of MEMMOVEs (three rounds, seeded moment): success with every byte or 0x83 "
        "at destination + bytes completed; a Translation Completion overtaken by the Invalidate Request and "
        "Completion (with the process's PASID or without a PASID) is discarded and the page asked again (0x83 "
        "bytes 0, nothing written to the old page)",
        "T10 the other status per side: CA for the source (0x22), UR for the destination (0xA2)",
        "T4 scopes: a 2-page range with PASID drops exactly those pages of that PASID (another PASID's entries "
        "hit), the same range without PASID drops every entry of every PASID, 'all' with a PASID drops only "
        "that PASID's entries; the QI / CMD_ATC_INV commands carry the range",
        "T4 reads in flight: an Invalidate Request sent while translated reads are outstanding (with and without "
        "PASID): its Invalidate Completion only after those reads' completions were received (checker), the "
        "copy completes exactly",
        "T3 2 MiB and 1 GiB leaves: one Translation Request per large page, S-encoded entry (log2 pages 9 / 18) "
        "at the aligned physical base; other 4 KiB pages of it hit; a 4 KiB invalidation inside drops the whole "
        "entry (the next access re-requests), the other large entry still hits",
        "T12 record-write fault (read-only page, unmapped page, UR translation): no record, no interrupt, SWERR "
        "CR_XLAT with CODE_STATUS (0x00 / 0x03), FAULT_RW = 1, WQ, PASID, opcode, record address; a DRAIN right "
        "behind retires after it with record and interrupt; a later descriptor completes normally",
        "SMMUv3 (arm only) STE.EATS = 00b: Translation Requests UR with F_BAD_ATS_TREQ (0x22 | bit 7, SWERR "
        "CR_XLAT); with CR0.ATSCHK, Translated writes from cached translations aborted with F_TRANSL_FORBIDDEN, "
        "memory unchanged",
        "ATC consistency checker (tb/pcie/ats_agent.py) on every test: translated TLPs only inside live grants",
    ), platforms=("x86", "arm"), blocks=("link", "ats", "dma", "engine", "top", "platform"), stage="V2",
        covergroups=("ats",)),
    Entry("tb.tests.platform.test_pri", ("default", "small"), (
        "T1 PRI capability after ATS (ID 0x13 v1), reset Control 0 / Status 0x8100 / allocation 0, capacity 2 = "
        "CAP3.PRI_CAPACITY, CAP3.BOF/PRS; pci_reset_pri pulses cfg_pri_reset once, pci_enable_pri(32) -> "
        "allocation 2, cfg_pri_en/alloc, Stopped 0 while E = 1, second enable refused; FLR resets PRI",
        "T7 BOF on lazy source / destination / record pages: one Page Request each (R or W, L = 1, PASID, PMR 0), "
        "Success, re-translation, exact data; forbidden -> Invalid Request -> 0x04 / 0x84 with exact bytes and "
        "fault address (also mid-buffer); no BOF -> no Page Request, 0x03; unmapped Success retried, at most 4 "
        "rounds then 0x03; Response Failure -> RF, 0x03, BOF as no-BOF until PRI re-enabled",
        "T8 BOF not effective (allocation 0, PRI Enable 0, WQCFG2.BOF_EN 0, PRS_DISABLE 1) -> no Page Request, "
        "no-BOF record; allocation 1 with both sides faulting -> one outstanding; allocation 2 -> both; PRGI = "
        "{per-side counter, slot} exactly; never beyond the allocation (shim)",
        "T9 PRG Response with an unknown PRGI or another PASID -> UPRGI only, request stays outstanding; without "
        "PASID -> matched on the PRGI (Success -> re-translation -> new request, stale answer -> UPRGI); unused "
        "code -> Response Failure (RF, 0x03/0x83); failing answers for the record page -> no record, engine goes on",
        "T13 FLR while blocked on PRI with an invalidation pending: nothing after the FLR, the late PRG Response "
        "sets UPRGI, re-enable in Linux order works",
        "T15 DRAIN_PASID waits for the descriptor blocked on PRI, the record before the drain's completion; "
        "unbind after the PRQ drain, no Page Request of the old PASID",
        "shim checks on every Page Request: PRI E, allocation, TC 0, L = 1, no Stop Marker, PRGI not outstanding",
    ), platforms=("x86", "arm"), blocks=("link", "ats", "dma", "engine", "top", "platform"), stage="V2",
        covergroups=("pri",)),
    Entry("tb.tests.platform.test_platform_faults", ALL_CONFIGS, (
        "every VT-d fault reason 0x20-0x26 from an MSI-X vector and from an IMS entry, under every link pause "
        "mode: reserved data bits with SHV, index beyond the table, IRTE not present, IRTE read error, reserved "
        "IRTE bits, compatibility format blocked, source-ID mismatch; recorded with the reason, the device's "
        "SID and the interrupt index (also in the primary fault record), nothing delivered",
        "every ITS/SMMU drop from both sources under every pause mode: DeviceID beyond Devbits, device unmapped "
        "(MAPD V=0), EventID unmapped / beyond the ITT, collection unmapped, ITS disabled, write beside "
        "GITS_TRANSLATER, ITT read error, unmapped IOVA (SMMU fault); recorded with DeviceID and EventID "
        "(StreamID and IOVA), nothing delivered or left pending; DISCARD (also of a pending LPI)",
        "the platform keeps working: a good interrupt fired with or after the bad one is delivered exactly once, "
        "the bad one faults again every time; device-wide conditions repaired as a kernel would",
    ), platforms=("x86", "arm"), blocks=("link", "msix", "ims", "top", "common", "platform"), stage="V2",
        covergroups=("platform", "interrupts", "vectors")),
    Entry("tb.tests.wq.test_commands", WITH_MAX, (
        "CMD/CMDSTS: every CMD_ERR code (INVAL_CMD, DEV_ENABLED, DEV_NOT_ENABLED, WQ_INVAL for every WQ command, "
        "WQ_ENABLED, WQ_NOT_ENABLED, WQ_SIZE 0 and > depth, WQ_MODE, WQ_PASID_EN)",
        "GENSTS.ENABLED and WQCFG6 STATE/OCCUPANCY through enable, disable, DISABLE_DEVICE, RESET_DEVICE",
        "WQCFG latched at ENABLE_WQ (SIZE, dedicated PASID on DMA, MAX_XFER_SHIFT)",
        "a command written while CMDSTS.ACTIVE is ignored (DRAIN_WQ held active by a stalled DMA)",
        "device-wide commands on a disabled device: OK, RESULT 0, still disabled; unknown codes INVAL_CMD with the "
        "device disabled and enabled; in both device states every WQ command on a missing WQ is WQ_INVAL, "
        "DISABLE/DRAIN_WQ of a disabled WQ WQ_NOT_ENABLED, ABORT/RESET_WQ of one OK with RESULT 0",
    ), blocks=("wq", "engine", "dma", "regs", "top", "common"), stage="V2", covergroups=("commands",)),
    Entry("tb.tests.wq.test_portals", WITH_MAX, (
        "every row of the portal table: SC at any 64-byte offset, RRS full/disabled/draining (nothing logged), "
        "CA size/alignment / bytes disabled, UR no prefix / PASID off / PMR with priv disabled / PMR to PRIV=0 / "
        "DMWr to dedicated / portal read, MOVDIR64B accepted / dropped full, disabled, draining, wrong size, "
        "bytes disabled, to shared",
        "SWERR record per rejection (code, WQ, PASID, BAR2 offset), first error + OVERFLOW, ERR_LOG -> MSI-X vector 0",
        "nothing half-accepted: OCCUPANCY unchanged, no record/data of a rejected descriptor ever appears",
        "bounded ENQCMD retry, recovery once the queue drains; PORTAL_NO_WQ when BAR2 has a spare page",
    ), blocks=("link", "wq", "regs", "top", "common"), stage="V2", covergroups=("portals", "descriptors")),
    Entry("tb.tests.wq.test_descriptors", ALL_CONFIGS, (
        "NOOP/MEMFILL/MEMMOVE byte-exact, 1 B .. 6000 B, every source x destination alignment class (64 B, 8 B, "
        "4 B, odd), 4 KiB page crossing, memory below and above 4 GiB (source, record, MEMFILL and MEMMOVE "
        "destination at exactly 4 GiB), shared and dedicated WQs; guard bytes around every destination untouched",
        "DRAIN completes after every earlier descriptor of its WQ",
        "statuses 0x10, 0x11 (+ invalid-flags field), 0x12 (DW0 and tail), 0x13 (and the 2^shift boundary), "
        "0x19 (IMS and MSI-X handles), 0x03 page fault (source UR, CA, and running off memory: fault address, bytes "
        "completed really in the destination); every accepted flag together succeeds on every opcode (an unknown "
        "one is 0x10); DRAIN's 0x11/0x12/0x19; two errors at once report the first of the documented order",
        "dedicated WQs with user and privileged PASIDs, with and without PASID[19:16], for every status; the "
        "descriptor's own PASID field is ignored",
        "CRAV=0 / misaligned record -> SWERR NO_CR with its fields (shared and dedicated WQ); a misaligned "
        "record on a good descriptor is 0x1B, not run (checked after reserved fields, before the size); RCR=0 "
        "success writes no record",
        "every DMA request (reads, writes, record) of a descriptor carries its PASID and PMR",
    ), blocks=("wq", "engine", "dma", "link", "top", "common"), stage="V2", covergroups=("descriptors", "data")),
    Entry("tb.tests.wq.test_dma_reads", ALL_CONFIGS, (
        "read tags: MRRS 128 B with completions held, a 4 KiB MEMMOVE has at most TAGS (16) reads outstanding, "
        "no tag reused while outstanding, then completes byte-exact",
        "DMA completion timeout: an unanswered source read ends the MEMMOVE with 0x20 (hardware error) exactly CPL_TIMEOUT cycles "
        "after its MRd (not earlier, not much later), fault address = source, 0 bytes completed; the late "
        "completions are dropped and later descriptors reusing the tags complete byte-exact",
        "Bus Master Enable off: a MEMMOVE and a MEMFILL send nothing upstream (no read, data or record) until "
        "it is back on, then complete byte-exact",
        "unexpected completions (unsolicited, duplicates, a broken copy of every completion: Requester ID, Byte "
        "Count, Lower Address, Length, SC without data, tag) dropped whole and counted in LINK_ERR, the real "
        "ones complete byte-exact; a poisoned CplD fails its MEMMOVE with 0x20 and partial bytes",
        "each of the four streams held for 10,500 cycles with descriptors and an MMIO read in flight: nothing "
        "lost or hung",
    ), blocks=("dma", "engine", "top", "link", "regs"), stage="V2", covergroups=("descriptors",)),
    Entry("tb.tests.wq.test_batch", ALL_CONFIGS, (
        "BATCH (0x01): batches of every size 2..max (device MAX_BATCH on small, the WQ's WQCFG3.MAX_BATCH_SHIFT "
        "limit elsewhere) of MEMMOVE/MEMFILL/NOOP members with and without record and interrupt (MSI-X, the WQ's "
        "IMS), on a shared WQ with ENQCMD PASIDs (user/privileged) and a dedicated WQ, every link mode: member data "
        "and records exact, every DMA request (list reads included) with the batch's PASID/PMR, batch record "
        "SUCCESS with the member count after every member's record and interrupt",
        "the batch's record behind member interrupts queued after MSI-X or IMS replays (tx_req stalled, list read "
        "answered late): not started while the messages wait, after every one of them on the link",
        "batch checks: list not 64-byte aligned 0x18, count 0/1/WQ limit+1/device limit+1 0x14, destination slot "
        "0x12, list before count; nothing read",
        "failing members (undefined opcode, nested BATCH, DRAIN: 0x10; source page fault 0x03) fail alone, batch "
        "0x05 with every member counted; list entry k answered UR/CA: 0x06, fault address list+64k, k counted; "
        "failed batch without record address: SWERR NO_CR",
        "FENCE inside a batch waits for the earlier members' records; DRAIN_PASID and DRAIN_WQ during a batch wait "
        "for its record; ABORT_PASID leaves a taken batch running; per-WQ order behind a batch",
        "RESET_DEVICE and FLR in the middle of a batch: no hang, nothing after the FLR, batches run again",
    ), blocks=("wq", "engine", "dma", "top", "common", "regs"), stage="V2", covergroups=("batch", "descriptors")),
    Entry("tb.tests.wq.test_completion_interrupts", WITH_MAX, (
        "RCI with MSI-X handles (3DW/4DW, masked -> PBA -> one replay)",
        "per-WQ IMS isolation: the same handle in two WQs sends each WQ's own message; first and last entry of "
        "every WQ's window",
        "IMS PASID binding match/mismatch (SWERR IMS_PASID, no message, no PENDING), mask -> PENDING -> one message",
        "torn-message rule: unmasked writes dropped (SWERR IMS_UNMASKED_WRITE); mask-rewrite-unmask under "
        "streaming completions only ever sends complete (address, data) pairs",
        "out-of-range handles: 0x19 and no message; the record is in host memory when its interrupt arrives",
        "PASID binding over all 20 bits (PASID[19:16] differing alone -> IMS_PASID); rebinding a pending entry "
        "(PASID[19:16] or [15:0] changed) clears PENDING, rewriting the same binding keeps it",
        "Bus Master Enable = 0 holds MSI-X and IMS (unmask keeps PENDING); setting it replays both engines' "
        "pending messages at once through the shared writer, each exactly once, under every pause mode",
        "completions while Bus Master Enable = 0: record-less ones pend (already pending: still one message), a "
        "PASID mismatch is dropped even then; a record write already on tx_req when it cleared lands, its IMS "
        "(none/matching binding, already pending) or MSI-X interrupt is held and sent once when it is set",
        "IMS slots past CAP1.IMS_PER_WQ in every window read 0, ignore writes, alias no implemented entry",
        "shared message writer: an IMS message waiting at it (tx_req held) stays until taken when the MSI-X engine "
        "becomes valid with the turn its own; messages arrive in the order shown",
        "dev_idle through a Bus Master Enable replay scan of IMS (first entry of the first WQ, last of the last, a "
        "masked pending word between): low every cycle until the last message; settle() returns after it",
    ), blocks=("ims", "msix", "engine", "link", "wq", "top", "common"), stage="V2", covergroups=("interrupts", "messages", "vectors")),
    Entry("tb.tests.wq.test_drain_abort", ALL_CONFIGS, (
        "ABORT_WQ / ABORT_ALL: RESULT = OCCUPANCY, youngest discarded (no record, data or interrupt), "
        "executing ones complete",
        "RESET_WQ / RESET_DEVICE with descriptors in flight; DISABLE_WQ, DRAIN_WQ, DRAIN_ALL, DISABLE_DEVICE "
        "wait for every earlier descriptor; new submissions RRS / dropped meanwhile",
        "FLR with descriptors in flight: nothing upstream after it, registers and IMS at reset, clean re-bring-up",
        "ABORT_PASID: exactly the PASID's queued descriptors discarded on every WQ (RESULT exact), the earlier ones "
        "of other PASIDs complete first, WQs keep accepting; also at a random moment under two processes' traffic",
        "DRAIN_PASID: no TLP or interrupt message of the PASID starts on the link after the completion reporting "
        "ACTIVE = 0; other PASIDs keep submitting",
        "DRAIN_PASID / ABORT_PASID wait for the PASID's descriptors already in the engine (nothing queued); FENCE: "
        "the fenced descriptor's source reads start only after the earlier descriptor's record",
    ), blocks=("wq", "engine", "dma", "ims", "link", "top", "common"), stage="V2", covergroups=("commands", "descriptors")),
    Entry("tb.tests.wq.test_int_handles", WITH_MAX, (
        "CMDCAP lists every command; REQUEST_INT_HANDLE returns the entry's descriptor handle (first and last MSI-X "
        "vector, IMS entry of every WQ), bad operands INVAL_INT_IDX / INVAL_INT_IDX_RELEASE",
        "INTHDL_CTL.REQUIRED: ungranted, released or other-WQ IMS handles give 0x19 and no interrupt; granted ones "
        "interrupt; RESET_DEVICE and FLR revoke every handle until re-requested",
        "a descriptor held by the reset sweep of the handle table (REQUIRED = 1): dev_idle low, Bench.settle() "
        "returns only after it completes (on default it waits about 4,000 quiet cycles)",
        "after an FLR, REQUIRED = 1 posted right before an RCI descriptor with a handle granted before the FLR, "
        "during the sweep: 0x19, no interrupt (the descriptor is taken a cycle before REQUIRED takes effect)",
        "dev_idle low in every cycle while RESET_DEVICE is ACTIVE (waiting for the sweep, nothing else to do), high "
        "before and after",
    ), blocks=("wq", "engine", "regs", "top"), stage="V2", covergroups=("commands", "descriptors")),
    Entry("tb.tests.wq.test_arbitration", WITH_MAX, (
        "WQCFG2.PRIO: a higher priority WQ is always served first; equal priorities take turns; FIFO inside a WQ",
    ), blocks=("wq", "engine", "top", "common"), stage="V2", covergroups=("descriptors",)),
    Entry("tb.tests.wq.test_traffic", WITH_MAX, (
        "concurrent random traffic on every WQ, shared and dedicated, several PASIDs, privileged and not, "
        "MSI-X and IMS completion interrupts, injected descriptor errors; scoreboard counts reported",
    ), blocks=ALL_RTL, stage="V3", covergroups=("descriptors", "data", "interrupts", "portals")),
    Entry("tb.tests.platform.test_guests", ("small",), (
        "guests on the RTL (issue 10, docs/vmm.md): the unchanged driver model in a VM, MSI-X table trapped "
        "as vfio-pci does, portals and the rest of BAR0 mapped through, guest RAM behind VT-d second level / "
        "SMMUv3 stage 2; the VMM's host messages (IRTE posted or remapped; host ITS event + virtual ITS) in "
        "the physical table, the guest's own in its view; each completion interrupt exactly once at its vCPU, "
        "VM exits counted by reason",
        "VT-d posted interrupts with the unchanged device: posted to a running vCPU without exit; suppressed while "
        "preempted (SN: PIR set, ON clear, no notification) and taken at the next entry; a halted vCPU notified "
        "with the wake-up vector, woken, and given the interrupt on entry",
        "IMS designs (a) guest's own message, (b) hypercall, (c) trapped IMS on the RTL's IMS with two VMs sharing "
        "the device: fault 0x25 for (a), exactly-once delivery and masked replay for (b)/(c), exits per setup / "
        "mask+unmask / interrupt, B's copy of A's message reaches A under (b) only",
    ), platforms=("x86", "arm"), blocks=ALL_RTL + ("platform",), stage="V2", covergroups=("platform", "interrupts")),
    Entry("tb.tests.platform.test_guest_device", ("small", "default"), (
        "the device's own test program in a guest (issue 10 items 1 and 7, docs/vmm.md): the C library's scenario "
        "unchanged in a VM that owns the whole device (vfio-pci MSI-X trap, every IMS window trapped, guest RAM "
        "behind the RID_PASID second level, the scenario's PASIDs attached second level over guest RAM and sent "
        "by the vCPU's ENQCMDS); every check passes, each interrupt exactly once at its vCPU, one VM exit per "
        "trapped access, remapped: one EXTERNAL_INTERRUPT exit per interrupt, posted: none; no DMA fault",
        "the unchanged driver model's FLR and re-probe from inside the assigned guest (x86 posted/remapped, ARM): "
        "the VMM intercepts the guest's Initiate FLR as vfio-pci does (host interrupts freed, emulated MSI-X and "
        "IMS reset); SCRATCH reset, MSI-X and IMS completions before and after exactly once at their vCPUs, every "
        "physical entry in use holding the VMM's host message (no stale route)",
        "two VMs on separate dedicated WQs of one device (3+ WQ builds), each WQ bound to a host PASID attached "
        "second level over its VM's RAM, IMS slots trapped: the unchanged driver-model submission and IMS code in "
        "each, the same GPAs in both; zero cross-DMA (whole guest RAM byte-exact), every DMA TLP with its WQ's host "
        "PASID, each interrupt exactly once at its own vCPU, posted, no exit (zero cross-delivery)",
    ), platforms=("x86", "arm"), blocks=ALL_RTL + ("platform",), stage="V2", covergroups=("platform", "interrupts")),
    Entry("tb.tests.platform.test_guest_pasid", ("small",), (
        "guest PASIDs (issue 10 item 6, docs/vmm.md): two VMs' processes with the same guest PASID and the same "
        "virtual addresses on one shared WQ; the CPU's PASID translation (VMCS PASID-translation table) puts each "
        "guest's host PASID in the DMWr's prefix and DWORD 0; DMA through VT-d nested (guest first level over "
        "second level); IMS slots trapped and bound to the host PASID; zero cross-DMA (whole guest RAM "
        "byte-exact) and zero cross-delivery",
        "an unmapped guest PASID is VM exit 72 and nothing on the link; a descriptor naming another guest's IMS "
        "entry gets no interrupt and SWERR IMS_PASID with its host PASID",
    ), platforms=("x86",), blocks=ALL_RTL + ("platform",), stage="V2", covergroups=("platform", "interrupts")),
    Entry("tb.tests.platform.test_guest_vits", ("small",), (
        "ARM guest with a shadowing virtual ITS (issue 10 item 5, docs/vmm.md): the unchanged driver model in the "
        "guest, its kernel's ITS code on a virtual DeviceID; with the VMM's virtual -> physical DeviceID, each guest "
        "MAPTI mirrored on the physical ITS, the guest's own messages in the physical table, each completion "
        "interrupt one host LPI and one injection, exactly once at the guest",
        "an unmapped virtual DeviceID: the vITS drops and records the guest's commands, nothing is shadowed, and "
        "the RTL's real messages are dropped by the physical ITS as DEVICE_UNMAPPED; nothing reaches the guest",
    ), platforms=("arm",), blocks=ALL_RTL + ("platform",), stage="V2", covergroups=("platform", "interrupts")),
    Entry("tb.tests.platform.test_guest_arm", ("small",), (
        "ARM guest SubstreamIDs (issue 10 item 6, docs/vmm.md): SMMUv3 nested STE with the guest's own CD table "
        "(IPA) over the VM's stage 2; two guest processes with the same virtual addresses on the host driver's "
        "shared WQ, SSIDs chosen by the guest and sent untranslated: every DMWr and DMA TLP carries one of them, "
        "guest RAM byte-exact, each completion interrupt once at its own vCPU through the vITS; an SSID without a "
        "CD in the guest's table is C_BAD_CD for that SSID and the record is dropped",
        "two VMs on one function (one STE and stage 2 per StreamID, so no nesting): a host SSID per VM whose "
        "stage 1 maps the VM's GPAs, portal writes trapped to carry it; zero cross-DMA, zero cross-delivery",
        "IMS designs on ARM (item 3): guest's own message on a plain vITS (hits the host's ITT), hypercall for a "
        "host event, trapped IMS pages; exact exits per setup, mask+unmask and interrupt, and guest B's copy of "
        "A's message reaching A only under the hypercall design",
    ), platforms=("arm",), blocks=ALL_RTL + ("platform",), stage="V2", covergroups=("platform", "interrupts")),
    Entry("tb.tests.fw.test_driver_model", ALL_CONFIGS, (
        "driver model (fw/imsdev/driver) against the RTL through the platform's irq domain: probe (capability "
        "walk, BARs, PASID), MSI-X in Linux's order, per-WQ IMS with PASID binding, request_irq handlers",
        "shared WQ by ENQCMD and dedicated WQ by MOVDIR64B; completions by IMS, MSI-X and polling; data and "
        "records checked; record in host memory before its interrupt is handled",
        "injected errors handled from the error interrupt with decoded SWERR (NO_CR, PORTAL_MODE, IMS_PASID) "
        "and acknowledged; a failure with a record is not logged",
        "disable/enable (masked slot pends, one message), affinity of IMS and MSI-X interrupts rewrites only "
        "the platform entry, live IMS rewrite through the bus lock (mask first, applied at unlock)",
        "ENQCMD bounded retry against a full queue (-EAGAIN after 1 + retries RRS, nothing logged); FLR and "
        "re-probe restoring WQs and IMS; remove",
    ), platforms=("x86", "arm"), blocks=ALL_RTL + ("platform",), stage="V2", covergroups=("platform", "interrupts", "streams")),
    Entry("tb.tests.fw.test_c_library", ALL_CONFIGS, (
        "C library (fw/lib, libimsdev.so via ctypes) against the RTL: bring-up, shared + dedicated WQ (one-WQ "
        "builds reconfigure WQ 0), MSI-X and IMS programming, ENQCMD with bounded retry, MOVDIR64B, "
        "interrupts, completion records, masked IMS pending/replay, affinity, injected NO_CR error and PBA write (the misc-interrupt handler returns SWERR and ERR); "
        "returns the number of the first failed check",
    ), platforms=("x86", "arm"), blocks=ALL_RTL + ("platform",), stage="V2", covergroups=("platform", "interrupts", "streams")),
    Entry("tb.tests.stress.test_stress", ALL_CONFIGS, (
        "constrained random (short version; `make stress SEEDS=N` for many seeds, IMSDEV_STRESS_ITEMS scales): "
        "ENQCMD to shared and MOVDIR64B to dedicated WQs, PASIDs with PASID[19:16] != 0, priv and not, "
        "NOOP/MEMMOVE/MEMFILL/DRAIN of size classes 0, 1, 63-65, 4095-4097 .. 6 KiB, any alignment, page "
        "crossing, below/above 4 GiB, source/record at exactly 4 GiB; injected errors (opcode, flags, reserved, size, handle, "
        "IMS PASID mismatch, DMA read UR/CA, NO_CR); MSI-X and per-WQ IMS interrupts through the platform",
        "control events at random times: affinity changes, backpressure bursts on all four streams, MSI-X/IMS "
        "mask-unmask with rewrite under mask (coalesced PENDING -> one replay), DRAIN/DISABLE/ABORT/RESET_WQ, "
        "ABORT_ALL, RESET_DEVICE, bus master off/on (pends, one message), PASID off/on, MSI-X Function Mask; "
        "FLR under load in `make stress` only (IMSDEV_STRESS_FLR=1: it half-sends a TLP, see tb/stress/events.py)",
        "exact accounting per epoch: every descriptor completed/aborted as predicted (RESULT = never "
        "completed, youngest discarded), every interrupt once at its target; counts in stress_counts.json",
    ), platforms=("x86", "arm"), blocks=ALL_RTL + ("platform",), stage="V3",
        covergroups=tuple(c for c in COVERGROUPS if c != "batch")),      # the stress mix has no batches yet
)
