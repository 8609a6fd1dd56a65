"""A hand-written Promela peer of the LUO model (issue #15), for SPIN.

Written from the kernel semantics (``/work/shared/reference/luo-semantics.md``,
``kho-semantics.md``) and the abstractions the README documents -- not translated from
``model/``. :func:`promela` returns the model for one set of bounds: the text is fixed,
only the ``#define`` lines of the bounds change. It covers what the named bounds ``tiny``
and ``ci`` use with the ``upstream`` design: at most one folio per memfd, no scratch page,
interleaved reboot, at most one live update (``kexecs`` = 1), no ``kho_finalize``. Issue
#16 added the one state-changing call of the newest kernel's vocabulary that reaches new
states in ``upstream``: closing and reopening ``/dev/liveupdate`` (``dev``). Issue #17:
after the jump the device starts closed and its first open deserializes the incoming
sessions (``deser``); a failed deserialization discards them all, leaves their frames
reserved until the next kexec (``LEAKED``) and fails every later open.

State (every variable is part of SPIN's state vector except the ``hidden`` scratch
variables, which each ``d_step`` uses as temporaries):

* ``kexecs``, ``phase`` (RUNNING, SERIALIZING: ``reboot()`` has begun and sessions are
  serialized one by one, READY: every session serialized, the jump may happen),
  ``faults`` (injected faults left);
* page frames: allocator owner (FREE, ALLOC: a kernel user of this boot, OTHER: another
  kernel user, RESV: reserved by KHO for the previous kernel's data), the KHO tracker bit,
  the KHOP stamp, and a content tag (zero, A: what memfd_create wrote, B: after a write,
  foreign: another kernel user's data). A freed frame reads as zero;
* memfd slots: alive (the object exists), user_fd (user space holds an fd), its folio's
  frame (-1: empty memfd);
* outgoing sessions in creation order: the LUO files block's frame, ``serialized``, the
  files (PRESERVED / FROZEN, memfd slot, the handler's ``memfd_luo_ser`` frame, the folio
  frame) and the *snapshot*: what serialization wrote (the block and each file's ser and
  folio), ghost state read at the jump;
* incoming sessions in the order the previous kernel created them: status (NEW,
  RETRIEVED, FINISHED), files block frame, ``vetoed`` (ghost: a can_finish veto
  happened), files (NEW, RETRIEVED, RETRIEVE_FAILED; memfd slot once retrieved, ser and
  folio frames while still reserved, ``retrieve_called`` (ghost), and ``expect``: the
  content tag the folio held at the jump, ghost, for data_intact).

Allocation rule (README: "the allocator's choice among free frames follows the model's
label-independent rule"): every kernel allocation takes the lowest-numbered FREE frame;
all FREE frames are alike here (zero content, no stamp, not tracked), so this is the
representative choice. A new memfd takes the lowest dead slot.

One state per data state: a single ``active proctype`` whose body is one ``do`` loop of
``d_step`` alternatives, each one kernel call that changes the state (a call that fails
without changing anything is a self-loop and adds no state; see ``luo_spin.py`` for how
transitions compare). The process starts at the loop head and never leaves it, every
global has its initial value from its declaration, and the scratch variables are
``hidden``: so SPIN's stored states are exactly the distinct data states.
"""

from __future__ import annotations

from luoverify.model.bounds import NAMED_BOUNDS, Bounds

PROLOGUE = r"""
/* ---- constants ------------------------------------------------------------------- */
#define RUNNING 0
#define SERIALIZING 1
#define READY 2

#define FREE 0
#define ALLOC 1
#define OTHER 2
#define RESV 3
#define LEAKED 4  /* reserved, left for the next kexec by a failed deserialization or a
                     memfd retrieve that failed before restoring its folio */

#define D_DONE 0
#define D_PENDING 1
#define D_FAILED 2

#define C_ZERO 0
#define C_A 1
#define C_B 2
#define C_FOREIGN 3

#define F_PRESERVED 1
#define F_FROZEN 2

#define S_NEW 1
#define S_RETRIEVED 2
#define S_FINISHED 3

#define I_NEW 1
#define I_RETRIEVED 2
#define I_FAILED 3          /* retrieve failed with ENOMEM (alloc_file, or a folio's insert) */
#define I_FAILED_OPNOTSUPP 4  /* ... with EOPNOTSUPP (seals) */
#define I_FAILED_INVAL 5      /* ... with EINVAL (restore_folios) */

#define OF(s, f) ((s) * NF + (f))

/* ---- global state ----------------------------------------------------------------- */
byte kexecs;
byte phase;
byte faults = NFAULTS;
bit dev = 1;  /* user space holds /dev/liveupdate (luo_core.c: luo_open is exclusive) */
byte deser;   /* luo_session_deserialize's cached result: done, pending (after the jump), failed */

byte powner[NP];
bit ptrk[NP];
bit pstamp[NP];
byte pcont[NP];

bit malive[NM];
bit mufd[NM];
short mfol[NM] = -1;

/* outgoing sessions (creation order); files and snapshot per session */
byte onum;
short ofb[NS] = -1;
bit oserd[NS];
byte onf[NS];
byte ofst[NS * NF];
short ofmem[NS * NF] = -1;
short ofser[NS * NF] = -1;
short offol[NS * NF] = -1;
bit swr[NS];
short sfb[NS] = -1;
byte snf[NS];
short ssser[NS * NF] = -1;
short ssfol[NS * NF] = -1;

/* incoming sessions */
byte inum;
byte ist[NS];
short ifb[NS] = -1;
bit ivet[NS];
byte inf[NS];
byte ifst[NS * NF];
short ifmem[NS * NF] = -1;
short ifser[NS * NF] = -1;
short iffol[NS * NF] = -1;
bit ifrc[NS * NF];
byte ifexp[NS * NF];

/* ---- scratch (not part of the state vector) ---------------------------------------- */
hidden byte i;
hidden byte j;
hidden byte k;
hidden short p;
hidden short q;
hidden short r;
hidden byte ok;

/* ---- helpers ------------------------------------------------------------------------ */
/* page_alloc: the lowest FREE frame, or -1 (ENOMEM) */
inline alloc_lowest(res, excl) {
  res = -1;
  for (k : 0 .. NP - 1) {
    if
    :: res == -1 && powner[k] == FREE && k != excl -> res = k
    :: else -> skip
    fi
  }
}

/* free a frame: back to the allocator, untracked, unstamped, reads as zero */
inline free_page(pg) {
  powner[pg] = FREE; ptrk[pg] = 0; pstamp[pg] = 0; pcont[pg] = C_ZERO
}

/* is memfd slot m referenced by LUO (an outgoing file, or an incoming file retrieved
   and not yet finished)? (luo_file.c: the file reference LUO holds) */
inline managed(m) {
  ok = 0;
  for (k : 0 .. NS * NF - 1) {
    if
    :: ofmem[k] == m || ifmem[k] == m -> ok = 1
    :: else -> skip
    fi
  }
}

/* the last reference to memfd m is gone: shmem frees its folio (mm/shmem.c) */
inline memfd_maybe_die(m) {
  if
  :: !mufd[m] && malive[m] ->
     managed(m);
     if
     :: !ok ->
        malive[m] = 0;
        if
        :: mfol[m] >= 0 -> free_page(mfol[m]); mfol[m] = -1
        :: else -> skip
        fi
     :: else -> skip
     fi
  :: else -> skip
  fi
}

inline clear_out_file(x) {
  ofst[x] = 0; ofmem[x] = -1; ofser[x] = -1; offol[x] = -1; ssser[x] = -1; ssfol[x] = -1
}

inline clear_in_file(x) {
  ifst[x] = 0; ifmem[x] = -1; ifser[x] = -1; iffol[x] = -1; ifrc[x] = 0; ifexp[x] = 0
}

/* remove outgoing session s, shifting the later ones down (list order kept) */
inline remove_out(s) {
  for (i : s .. NS - 2) {
    if
    :: i + 1 < onum ->
       ofb[i] = ofb[i + 1]; oserd[i] = oserd[i + 1]; onf[i] = onf[i + 1];
       swr[i] = swr[i + 1]; sfb[i] = sfb[i + 1]; snf[i] = snf[i + 1];
       for (j : 0 .. NF - 1) {
         ofst[OF(i, j)] = ofst[OF(i + 1, j)]; ofmem[OF(i, j)] = ofmem[OF(i + 1, j)];
         ofser[OF(i, j)] = ofser[OF(i + 1, j)]; offol[OF(i, j)] = offol[OF(i + 1, j)];
         ssser[OF(i, j)] = ssser[OF(i + 1, j)]; ssfol[OF(i, j)] = ssfol[OF(i + 1, j)]
       }
    :: else -> skip
    fi
  }
  onum--;
  ofb[onum] = -1; oserd[onum] = 0; onf[onum] = 0; swr[onum] = 0; sfb[onum] = -1;
  snf[onum] = 0;
  for (j : 0 .. NF - 1) { clear_out_file(OF(onum, j)) }
}

inline remove_in(s) {
  for (i : s .. NS - 2) {
    if
    :: i + 1 < inum ->
       ist[i] = ist[i + 1]; ifb[i] = ifb[i + 1]; ivet[i] = ivet[i + 1]; inf[i] = inf[i + 1];
       for (j : 0 .. NF - 1) {
         ifst[OF(i, j)] = ifst[OF(i + 1, j)]; ifmem[OF(i, j)] = ifmem[OF(i + 1, j)];
         ifser[OF(i, j)] = ifser[OF(i + 1, j)]; iffol[OF(i, j)] = iffol[OF(i + 1, j)];
         ifrc[OF(i, j)] = ifrc[OF(i + 1, j)]; ifexp[OF(i, j)] = ifexp[OF(i + 1, j)]
       }
    :: else -> skip
    fi
  }
  inum--;
  ist[inum] = 0; ifb[inum] = -1; ivet[inum] = 0; inf[inum] = 0;
  for (j : 0 .. NF - 1) { clear_in_file(OF(inum, j)) }
}

/* luo_file_finish() with every can_finish said yes: finish (LIFO) each file; an
   unretrieved memfd file's finish restores and frees its ser and folio
   (memfd_luo_finish -> kho_restore_free); then the files block is restored and freed
   (luo_session.c). A retrieved file is dropped: LUO puts its file reference. */
inline session_finish(s) {
  for (j : 0 .. NF - 1) {
    if
    :: j < inf[s] ->
       p = OF(s, j);
       if
       :: ifser[p] >= 0 -> free_page(ifser[p])
       :: else -> skip
       fi;
       if
       :: iffol[p] >= 0 -> free_page(iffol[p])
       :: else -> skip
       fi;
       q = ifmem[p];
       clear_in_file(p);
       if
       :: q >= 0 -> memfd_maybe_die(q)
       :: else -> skip
       fi
    :: else -> skip
    fi
  };
  inf[s] = 0;
  if
  :: ifb[s] >= 0 -> free_page(ifb[s]); ifb[s] = -1
  :: else -> skip
  fi;
  ist[s] = S_FINISHED
}

/* Safety invariants the README names, asserted after every call:
   no_free_while_preserved: a free frame is neither KHO-tracked nor stamped;
   no_alloc_of_reserved: a frame another kernel user holds carries no KHOP stamp;
   metadata_tracked: every frame an outgoing file names (ser, folio) is KHO-tracked;
   single_owner (in part): a memfd's folio is an allocated frame, and no two live memfds
   or outgoing files share a ser / folio frame. */
inline check() {
  for (k : 0 .. NP - 1) {
    assert(powner[k] != FREE || (!ptrk[k] && !pstamp[k]));
    assert(powner[k] != OTHER || !pstamp[k])
  };
  for (k : 0 .. NS * NF - 1) {
    assert(ofser[k] < 0 || (ptrk[ofser[k]] && powner[ofser[k]] == ALLOC));
    assert(offol[k] < 0 || ptrk[offol[k]]);
    for (j : 0 .. NS * NF - 1) {
      assert(j == k || ofser[k] < 0 || (ofser[k] != ofser[j] && ofser[k] != offol[j]))
    }
  };
  for (k : 0 .. NM - 1) {
    assert(!malive[k] || mfol[k] < 0 || powner[mfol[k]] == ALLOC);
    for (j : 0 .. NM - 1) {
      assert(j == k || mfol[k] < 0 || !malive[k] || !malive[j] || mfol[k] != mfol[j])
    }
  };
  skip  /* a d_step may not end in a loop's exit */
}

/* luo_session_abort_reboot / the serialize rollback: every serialized session is
   unfrozen (memfd_luo_unfreeze), its snapshot discarded; the handle is kept (LUO-M5
   fix). */
inline unfreeze_all() {
  for (i : 0 .. NS - 1) {
    if
    :: i < onum ->
       oserd[i] = 0; swr[i] = 0; sfb[i] = -1; snf[i] = 0;
       for (j : 0 .. NF - 1) {
         if
         :: j < onf[i] -> ofst[OF(i, j)] = F_PRESERVED
         :: else -> skip
         fi;
         ssser[OF(i, j)] = -1; ssfol[OF(i, j)] = -1
       }
    :: else -> skip
    fi
  }
}
"""


def _body(b: Bounds) -> str:
    out: list[str] = []
    add = out.append
    add("active proctype luo() {")
    add("  do")
    np_, nm, ns, nf = b.pages, b.memfds, b.sessions, b.files

    # --- memfd_create (mm/memfd.c: memfd_create; one folio written with tag A) -------
    for m in range(nm):
        lower_alive = " && ".join(f"malive[{x}]" for x in range(m)) or "true"
        add(f"  /* memfd_create(size=0) into slot {m}: the lowest dead slot */")
        add(f"  :: d_step {{ !malive[{m}] && {lower_alive} ->")
        add(f"       malive[{m}] = 1; mufd[{m}] = 1 }}")
        if b.folios >= 1:
            add(f"  /* memfd_create(size=1) into slot {m}: shmem allocates one folio"
                " (ENOMEM without a free frame: no change) */")
            add(f"  :: d_step {{ !malive[{m}] && {lower_alive} ->")
            add("       alloc_lowest(p, -1);")
            add("       if")
            add(f"       :: p >= 0 -> malive[{m}] = 1; mufd[{m}] = 1; mfol[{m}] = p;"
                " powner[p] = ALLOC; pcont[p] = C_A")
            add("       :: else -> skip")
            add("       fi }")
    # --- memfd_write / close ----------------------------------------------------------
    for m in range(nm):
        add(f"  /* write(memfd {m}): the folio's content becomes B (mm/shmem.c) */")
        add(f"  :: d_step {{ malive[{m}] && mufd[{m}] && mfol[{m}] >= 0 &&"
            f" pcont[mfol[{m}]] == C_A -> pcont[mfol[{m}]] = C_B }}")
        add(f"  /* close(memfd {m}): the fd goes; the memfd dies unless LUO holds it */")
        add(f"  :: d_step {{ mufd[{m}] -> mufd[{m}] = 0; memfd_maybe_die({m}) }}")
    # --- other kernel users -----------------------------------------------------------
    for pg in range(np_):
        others = " + ".join(f"(powner[{x}] == OTHER)" for x in range(np_))
        add(f"  /* alloc_pages by another kernel user: frame {pg} */")
        add(f"  :: d_step {{ powner[{pg}] == FREE && {others} < NOTHERS ->"
            f" powner[{pg}] = OTHER; pcont[{pg}] = C_FOREIGN }}")
        add(f"  /* free_pages by that user: frame {pg} */")
        add(f"  :: d_step {{ powner[{pg}] == OTHER -> free_page({pg}) }}")
    # --- create_session (luo_session.c: luo_session_create) ---------------------------
    add("  /* LIVEUPDATE_IOCTL_CREATE_SESSION, a fresh name: appended to the outgoing list;"
        " EBUSY during reboot (\"block session mutations during reboot\") */")
    add("  :: d_step { dev && phase == RUNNING && onum < NS -> onum++ }")
    # --- /dev/liveupdate (luo_core.c: luo_open, luo_release; issue #16) ---------------
    add("  /* close(\"/dev/liveupdate\"): sessions keep their own fds; open() again */")
    add("  :: d_step { dev -> dev = 0 }")
    add("  /* open(): the first one after the jump deserializes; once that failed every"
        " open gives EIO (no change) */")
    add("  :: d_step { !dev && deser != D_FAILED -> dev = 1; deser = D_DONE }")
    add("  /* the first open after the jump fails while deserializing a record (allocation,"
        " corrupt record, missing handler: wherever it fails, the newest kernel discards"
        " every session it rebuilt and caches the error); what the records name stays"
        " reserved until the next kexec */")
    add("  :: d_step { !dev && deser == D_PENDING && inum > 0 && faults > 0 ->")
    add("       faults--; deser = D_FAILED;")
    add("       for (k : 0 .. NP - 1) {")
    add("         if :: powner[k] == RESV -> powner[k] = LEAKED :: else -> skip fi")
    add("       };")
    add("       for (i : 0 .. NS - 1) {")
    add("         ist[i] = 0; ifb[i] = -1; ivet[i] = 0; inf[i] = 0;")
    add("         for (j : 0 .. NF - 1) { clear_in_file(OF(i, j)) }")
    add("       };")
    add("       inum = 0 }")
    # --- preserve_fd (luo_file.c: luo_preserve_file; memfd_luo.c: memfd_luo_preserve)
    for s in range(ns):
        for m in range(nm):
            add(f"  /* LIVEUPDATE_SESSION_PRESERVE_FD(outgoing {s}, memfd {m}): files block on"
                " first use, then the handler's ser frame; ser, block and folio KHO-tracked;"
                " EBUSY if LUO already manages the memfd (LUO-M3 fix), ENOMEM all-or-nothing */")
            cond = (f"phase == RUNNING && {s} < onum && onf[{s}] < NF && malive[{m}] &&"
                    f" mufd[{m}]")
            add(f"  :: d_step {{ {cond} ->")
            add(f"       managed({m});")
            add("       if")
            add("       :: !ok ->")
            add(f"          if :: ofb[{s}] >= 0 -> q = ofb[{s}]; p = -1 "
                ":: else -> alloc_lowest(q, -1); p = q fi;")
            add("          if")
            add("          :: q >= 0 ->")
            add("             alloc_lowest(r, p);")
            add("             if")
            add("             :: r >= 0 ->")
            add(f"                ofb[{s}] = q; powner[q] = ALLOC; ptrk[q] = 1;")
            add("                powner[r] = ALLOC; ptrk[r] = 1;")
            add(f"                if :: mfol[{m}] >= 0 -> ptrk[mfol[{m}]] = 1 :: else -> skip fi;")
            add(f"                p = OF({s}, onf[{s}]);")
            add(f"                ofst[p] = F_PRESERVED; ofmem[p] = {m}; ofser[p] = r;"
                f" offol[p] = mfol[{m}];")
            add(f"                onf[{s}]++")
            add("             :: else -> skip")
            add("             fi")
            add("          :: else -> skip")
            add("          fi")
            add("       :: else -> skip")
            add("       fi }")
            add("  /* the same with an injected preserve failure (ENOMEM): only the fault"
                " budget changes */")
            add(f"  :: d_step {{ {cond} && faults > 0 ->")
            add(f"       managed({m});")
            add("       if :: !ok -> faults-- :: else -> skip fi }")
    # --- close_session outgoing (luo_session_release -> luo_file_unpreserve_files) ----
    for s in range(ns):
        add(f"  /* close(outgoing session {s}): unpreserve every file (LIFO): untrack and free"
            " the ser, untrack the folio; untrack and free the files block; not offered during"
            " reboot (the close waits for the outcome) */")
        add(f"  :: d_step {{ phase == RUNNING && {s} < onum ->")
        add("       for (j : 0 .. NF - 1) {")
        add(f"         p = OF({s}, NF - 1 - j);")
        add("         if")
        add("         :: ofst[p] != 0 ->")
        add("            free_page(ofser[p]);")
        add("            if :: offol[p] >= 0 -> ptrk[offol[p]] = 0 :: else -> skip fi;")
        add("            q = ofmem[p]; clear_out_file(p); memfd_maybe_die(q)")
        add("         :: else -> skip")
        add("         fi")
        add("       };")
        add(f"       onf[{s}] = 0;")
        add(f"       if :: ofb[{s}] >= 0 -> free_page(ofb[{s}]); ofb[{s}] = -1 :: else -> skip fi;")
        add(f"       remove_out({s}) }}")
    # --- reboot / serialize / kexec ---------------------------------------------------
    add("  /* reboot(LINUX_REBOOT_CMD_KEXEC) -> liveupdate_reboot(): serialization begins"
        " (nothing to serialize: ready at once) */")
    add("  :: d_step { phase == RUNNING && kexecs < NKEXECS ->")
    add("       if :: onum > 0 -> phase = SERIALIZING :: else -> phase = READY fi }")
    for s in range(ns):
        prev = " && ".join(["true"] + [f"oserd[{x}]" for x in range(s)])
        add(f"  /* luo_session_serialize(session {s}): freeze each file (FIFO), write the"
            " session's record (the snapshot); after the last session, ready to jump */")
        add(f"  :: d_step {{ phase == SERIALIZING && {s} < onum && !oserd[{s}] && {prev} ->")
        add(f"       oserd[{s}] = 1;")
        add(f"       if :: onf[{s}] > 0 -> swr[{s}] = 1; sfb[{s}] = ofb[{s}]; snf[{s}] = onf[{s}]"
            " :: else -> skip fi;")
        add("       for (j : 0 .. NF - 1) {")
        add(f"         if :: j < onf[{s}] -> ofst[OF({s}, j)] = F_FROZEN;"
            f" ssser[OF({s}, j)] = ofser[OF({s}, j)]; ssfol[OF({s}, j)] = offol[OF({s}, j)]"
            " :: else -> skip fi")
        add("       };")
        add(f"       if :: {s} == onum - 1 -> phase = READY :: else -> skip fi }}")
        for f in range(nf):
            add(f"  /* the same, file {f}'s freeze fails (EIO): roll back, every session"
                " unfrozen, back to RUNNING */")
            add(f"  :: d_step {{ phase == SERIALIZING && {s} < onum && !oserd[{s}] && {prev}"
                f" && {f} < onf[{s}] && faults > 0 ->")
            add("       faults--; phase = RUNNING; unfreeze_all() }")
    add("  /* kernel_kexec(): the jump. KHO hands over every tracked frame: the next kernel"
        " reserves and stamps it (kho_preserved_memory_reserve); every other frame is free"
        " memory there; user space and its memfds are gone; each serialized outgoing"
        " session becomes an incoming one (its files NEW, content at the jump recorded as"
        " the expectation) */")
    add("  :: d_step { phase == READY ->")
    add("       kexecs++; phase = RUNNING; dev = 0; deser = D_PENDING;")
    add("       for (k : 0 .. NP - 1) {")
    add("         if")
    add("         :: ptrk[k] -> powner[k] = RESV; pstamp[k] = 1; ptrk[k] = 0")
    add("         :: else -> powner[k] = FREE; pstamp[k] = 0; pcont[k] = C_ZERO")
    add("         fi")
    add("       };")
    add("       for (k : 0 .. NM - 1) { malive[k] = 0; mufd[k] = 0; mfol[k] = -1 };")
    add("       inum = onum;")
    add("       for (i : 0 .. NS - 1) {")
    add("         if")
    add("         :: i < onum ->")
    add("            ist[i] = S_NEW; ifb[i] = sfb[i]; ivet[i] = 0; inf[i] = snf[i];")
    add("            for (j : 0 .. NF - 1) {")
    add("              p = OF(i, j);")
    add("              if")
    add("              :: j < snf[i] ->")
    add("                 ifst[p] = I_NEW; ifmem[p] = -1; ifser[p] = ssser[p];"
        " iffol[p] = ssfol[p]; ifrc[p] = 0;")
    add("                 if :: ssfol[p] >= 0 -> ifexp[p] = pcont[ssfol[p]]"
        " :: else -> ifexp[p] = 0 fi")
    add("              :: else -> skip")
    add("              fi")
    add("            }")
    add("         :: else -> skip")
    add("         fi")
    add("       };")
    add("       for (i : 0 .. NS - 1) {")
    add("         ofb[i] = -1; oserd[i] = 0; onf[i] = 0; swr[i] = 0; sfb[i] = -1; snf[i] = 0;")
    add("         for (j : 0 .. NF - 1) { clear_out_file(OF(i, j)) }")
    add("       };")
    add("       onum = 0 }")
    # --- incoming side ----------------------------------------------------------------
    for s in range(ns):
        add(f"  /* LIVEUPDATE_IOCTL_RETRIEVE_SESSION(incoming {s}) */")
        add(f"  :: d_step {{ dev && {s} < inum && ist[{s}] == S_NEW -> ist[{s}] = S_RETRIEVED }}")
        for f in range(nf):
            x = f"OF({s}, {f})"
            add(f"  /* LIVEUPDATE_SESSION_RETRIEVE_FD(incoming {s}, file {f}):"
                " memfd_luo_retrieve restores the folio (kho_restore_folio), restores and"
                " frees the ser; the memfd takes the lowest dead slot (none: ENOMEM, no"
                " change). A retrieved file: its fd again. */")
            add(f"  :: d_step {{ {s} < inum && ist[{s}] == S_RETRIEVED && {f} < inf[{s}] &&"
                f" ifst[{x}] == I_NEW ->")
            add("       q = -1;")
            add("       for (k : 0 .. NM - 1) { if :: q == -1 && !malive[k] -> q = k"
                " :: else -> skip fi };")
            add("       if")
            add("       :: q >= 0 ->")
            add(f"          malive[q] = 1; mufd[q] = 1; mfol[q] = iffol[{x}];")
            add(f"          if :: iffol[{x}] >= 0 -> powner[iffol[{x}]] = ALLOC;"
                f" pstamp[iffol[{x}]] = 0 :: else -> skip fi;")
            add(f"          free_page(ifser[{x}]);")
            add(f"          ifst[{x}] = I_RETRIEVED; ifmem[{x}] = q; ifser[{x}] = -1;"
                f" iffol[{x}] = -1; ifrc[{x}] = 1")
            add("       :: else -> skip")
            add("       fi }")
            add(f"  :: d_step {{ {s} < inum && ist[{s}] == S_RETRIEVED && {f} < inf[{s}] &&"
                f" ifst[{x}] == I_RETRIEVED && !mufd[ifmem[{x}]] -> mufd[ifmem[{x}]] = 1 }}")
            add("  /* the same with the folio's page-cache insert failing (insert:0, ENOMEM;"
                " a dead memfd slot is needed first: without one the call fails early,"
                " changing nothing): the folio and the ser are restored and freed; the"
                " status is remembered (LUO-M4 fix) */")
            dead = " || ".join(f"!malive[{x}]" for x in range(nm))
            add(f"  :: d_step {{ {s} < inum && ist[{s}] == S_RETRIEVED && {f} < inf[{s}] &&"
                f" ifst[{x}] == I_NEW && faults > 0 && iffol[{x}] >= 0 && ({dead}) ->")
            add(f"       faults--; free_page(ifser[{x}]); free_page(iffol[{x}]);")
            add(f"       ifst[{x}] = I_FAILED; ifser[{x}] = -1; iffol[{x}] = -1;"
                f" ifrc[{x}] = 1 }}")
            for point, failed in (("seals", "I_FAILED_OPNOTSUPP"), ("alloc_file", "I_FAILED"),
                                  ("restore_folios", "I_FAILED_INVAL")):
                add(f"  /* the same failing at {point}, before the folio is restored: only the"
                    " ser is restored and freed; the folio stays reserved until the next"
                    " kexec (LEAKED); the errno is remembered */")
                add(f"  :: d_step {{ {s} < inum && ist[{s}] == S_RETRIEVED && {f} < inf[{s}] &&"
                    f" ifst[{x}] == I_NEW && faults > 0 && ({dead}) ->")
                add(f"       faults--; free_page(ifser[{x}]);")
                add(f"       if :: iffol[{x}] >= 0 -> powner[iffol[{x}]] = LEAKED"
                    " :: else -> skip fi;")
                add(f"       ifst[{x}] = {failed}; ifser[{x}] = -1; iffol[{x}] = -1;"
                    f" ifrc[{x}] = 1 }}")
        add(f"  /* LIVEUPDATE_SESSION_FINISH(incoming {s}) (luo_file_finish) */")
        add(f"  :: d_step {{ {s} < inum && ist[{s}] == S_RETRIEVED -> session_finish({s}) }}")
        add("  /* the same, a can_finish veto (EBUSY): nothing finished */")
        add(f"  :: d_step {{ {s} < inum && ist[{s}] == S_RETRIEVED && inf[{s}] > 0 &&"
            f" faults > 0 -> faults--; ivet[{s}] = 1 }}")
        add(f"  /* close(incoming session {s}): finish if retrieved, then the session goes */")
        add(f"  :: d_step {{ {s} < inum && ist[{s}] >= S_RETRIEVED ->")
        add(f"       if :: ist[{s}] == S_RETRIEVED -> session_finish({s}) :: else -> skip fi;")
        add(f"       remove_in({s}) }}")
        add("  /* the same, can_finish vetoes: the session stays, retrievable again"
            " (luo_session_release clears retrieved) */")
        add(f"  :: d_step {{ {s} < inum && ist[{s}] == S_RETRIEVED && inf[{s}] > 0 &&"
            f" faults > 0 -> faults--; ivet[{s}] = 1; ist[{s}] = S_NEW }}")
    add("  od")
    add("}")
    # every alternative ends with dump() (a printf of the state with -DDUMP) and check()
    lines: list[str] = []
    for text in out:
        lines.extend(text.split("\n"))
    alt = False
    for n, line in enumerate(lines):
        if line.startswith("  :: d_step {"):
            alt = True
        nxt = lines[n + 1] if n + 1 < len(lines) else "  od"
        if alt and (nxt.startswith("  /*") or nxt.startswith("  ::") or nxt.startswith("  od")):
            assert line.endswith("}"), line
            lines[n] = line[:-1].rstrip() + "; dump(); check() }"
            alt = False
    return "\n".join(lines) + "\n"


STATE = [("kexecs", 0), ("phase", 0), ("faults", 0), ("dev", 0), ("deser", 0), ("powner", "NP"),
         ("ptrk", "NP"),
         ("pstamp", "NP"), ("pcont", "NP"), ("malive", "NM"), ("mufd", "NM"), ("mfol", "NM"),
         ("onum", 0), ("ofb", "NS"), ("oserd", "NS"), ("onf", "NS"), ("ofst", "NSF"),
         ("ofmem", "NSF"), ("ofser", "NSF"), ("offol", "NSF"), ("swr", "NS"), ("sfb", "NS"),
         ("snf", "NS"), ("ssser", "NSF"), ("ssfol", "NSF"), ("inum", 0), ("ist", "NS"),
         ("ifb", "NS"), ("ivet", "NS"), ("inf", "NS"), ("ifst", "NSF"), ("ifmem", "NSF"),
         ("ifser", "NSF"), ("iffol", "NSF"), ("ifrc", "NSF"), ("ifexp", "NSF")]
"""The state variables in the order ``dump()`` prints them (diagnostics)."""


def _dump(b: Bounds) -> str:
    size = {0: 0, "NP": b.pages, "NM": b.memfds, "NS": b.sessions,
            "NSF": b.sessions * b.files}
    names: list[str] = []
    for var, n in STATE:
        names += [var] if n == 0 else [f"{var}[{x}]" for x in range(size[n])]
    fmt = " ".join("%d" for _ in names)
    return ("#ifdef DUMP\ninline dump() { printf(\"S " + fmt + "\\n\", " + ", ".join(names)
            + ") }\n#else\ninline dump() { skip }\n#endif\n")


def promela(bounds: str | Bounds) -> str:
    """The Promela text of the peer for named bounds (or a :class:`Bounds`)."""
    b = NAMED_BOUNDS[bounds] if isinstance(bounds, str) else bounds
    if b.folios > 1 or b.scratch != 0 or b.reboot != "interleaved" or b.kexecs > 1:
        raise ValueError(f"the Promela peer covers folios<=1, scratch=0, interleaved reboot,"
                         f" kexecs<=1: {b.describe()}")
    head = [f"/* LUO peer model, bounds: {b.describe()} */",
            f"#define NP {b.pages}", f"#define NM {b.memfds}", f"#define NS {b.sessions}",
            f"#define NF {b.files}", f"#define NFAULTS {b.faults}",
            f"#define NOTHERS {b.others}", f"#define NKEXECS {b.kexecs}"]
    return "\n".join(head) + "\n" + PROLOGUE + "\n" + _dump(b) + "\n" + _body(b)
