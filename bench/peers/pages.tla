---------------------------- MODULE pages ----------------------------
(* The shared toy benchmark model "pages-N" (shared/bench/toy-model.md), for TLC.   *)
(* Page ownership across prepare / cancel / freeze / kexec / finish.                *)
EXTENDS Naturals

CONSTANT N

VARIABLES phase, cnt, pres, inc
vars == <<phase, cnt, pres, inc>>
P == 1..N

Init == /\ phase = "NORMAL"
        /\ cnt = [p \in P |-> 0]
        /\ pres = [p \in P |-> FALSE]
        /\ inc = [p \in P |-> FALSE]

Alloc(p) == /\ phase # "FROZEN" /\ cnt[p] = 0 /\ ~inc[p]
            /\ cnt' = [cnt EXCEPT ![p] = 1]
            /\ UNCHANGED <<phase, pres, inc>>
Free(p) == /\ phase # "FROZEN" /\ cnt[p] >= 1 /\ ~pres[p]
           /\ cnt' = [cnt EXCEPT ![p] = @ - 1]
           /\ UNCHANGED <<phase, pres, inc>>
Preserve(p) == /\ phase = "PREPARED" /\ cnt[p] = 1 /\ ~pres[p]
               /\ pres' = [pres EXCEPT ![p] = TRUE]
               /\ UNCHANGED <<phase, cnt, inc>>
Restore(p) == /\ phase = "POST" /\ inc[p]
              /\ inc' = [inc EXCEPT ![p] = FALSE]
              /\ cnt' = [cnt EXCEPT ![p] = @ + 1]
              /\ UNCHANGED <<phase, pres>>
Prepare == phase = "NORMAL" /\ phase' = "PREPARED" /\ UNCHANGED <<cnt, pres, inc>>
Cancel == /\ phase = "PREPARED" /\ phase' = "NORMAL"
          /\ pres' = [p \in P |-> FALSE] /\ UNCHANGED <<cnt, inc>>
Freeze == phase = "PREPARED" /\ phase' = "FROZEN" /\ UNCHANGED <<cnt, pres, inc>>
Kexec == /\ phase = "FROZEN" /\ phase' = "POST"
         /\ inc' = pres /\ pres' = [p \in P |-> FALSE] /\ cnt' = [p \in P |-> 0]
Finish == /\ phase = "POST" /\ phase' = "NORMAL"
          /\ inc' = [p \in P |-> FALSE] /\ UNCHANGED <<cnt, pres>>

Next == \/ \E p \in P : Alloc(p) \/ Free(p) \/ Preserve(p) \/ Restore(p)
        \/ Prepare \/ Cancel \/ Freeze \/ Kexec \/ Finish

Safe == \A p \in P : /\ cnt[p] <= 1
                     /\ pres[p] => cnt[p] = 1
                     /\ inc[p] => cnt[p] = 0
=============================================================================
