------------------------------ MODULE RcVerbs ------------------------------
(***************************************************************************)
(* Two IB RC endpoints, "A" and "B", joined by one TCP connection: one     *)
(* reliable FIFO byte stream per direction, which may break.               *)
(*                                                                         *)
(* Each endpoint has a QP (state, send queue, receive queue), one CQ for   *)
(* both queues, buffers owned by the process or by the hardware, and       *)
(* memory regions with abstract remote permissions. The requester sends    *)
(* SEND, RDMA WRITE and BADREQ (a request the responder must refuse as     *)
(* malformed); the responder places data and ACKs, NAKs access errors and  *)
(* invalid requests, and RNR-NAKs a SEND that finds no receive posted; the *)
(* requester retries after an RNR NAK up to RnrRetry times, going back to  *)
(* the NAKed WR as on the wire.                                            *)
(*                                                                         *)
(* QP states, valid modifies, post admission and the QP machine's own      *)
(* transitions come from QpTables, generated from machines/ by             *)
(* src/spec/generate-tables.ts. docs/spec.md says what is abstracted.      *)
(***************************************************************************)
EXTENDS Naturals, Sequences, FiniteSets, QpTables

CONSTANTS
    MaxPosts,       \* work requests each endpoint may post in a behaviour (ids 1..MaxPosts)
    Buffers,        \* the buffers of each endpoint (same names on both sides)
    SendOps,        \* subset of {"SEND", "WRITE", "BADREQ"} the application posts
    Regions,        \* remote targets a WRITE may name (an rkey and a range, abstractly)
    RemoteWritable, \* the targets covered by an MR that grants REMOTE_WRITE
    RnrRetry,       \* rnr_retry of both QPs: 0..6 (7, "retry forever", is not modelled)
    AllowBreak      \* whether the connection may break by itself (cable cut, RST)

ASSUME /\ MaxPosts \in 1..9
       /\ SendOps \subseteq {"SEND", "WRITE", "BADREQ"}
       /\ RemoteWritable \subseteq Regions
       /\ RnrRetry \in 0..6
       /\ AllowBreak \in BOOLEAN

Ep == {"A", "B"}
Peer(e) == IF e = "A" THEN "B" ELSE "A"

\* The states in which a QP owns the socket (it is handed over at RTR).
Connected == {"RTR", "RTS", "SQD"}

Ids == 1..MaxPosts
Targets == Regions \cup {"none"}
TargetsOf(op) == IF op = "WRITE" THEN Regions ELSE {"none"}
Statuses == {"SUCCESS", "REM_ACCESS_ERR", "REM_INV_REQ_ERR", "RNR_RETRY_EXC_ERR",
             "RETRY_EXC_ERR", "WR_FLUSH_ERR"}

\* A work request, a work completion, a message on the wire.
Wr(id, op, b, t) == [id |-> id, op |-> op, buf |-> b, tgt |-> t]
Wc(w, q, st) == [id |-> w.id, q |-> q, st |-> st, buf |-> w.buf]
Req(w) == [k |-> "REQ", id |-> w.id, op |-> w.op, tgt |-> w.tgt, why |-> "none"]
Resp(id, k, why) == [k |-> k, id |-> id, op |-> "none", tgt |-> "none", why |-> why]

\* The step properties an audit records (see `audit`).
StepProperties == {"QpTransitionsInTable", "DataPlacedSafely"}

VARIABLES
    qp,     \* [Ep -> QpStates]
    sq,     \* [Ep -> Seq(Wr)]: posted send WRs without a completion, oldest first
    rq,     \* [Ep -> Seq(Wr)]: posted receive WRs not yet consumed, oldest first
    cq,     \* [Ep -> Seq(Wc)]: completions not yet polled (one CQ serves both queues)
    nic,    \* [Ep -> [started, inflight, rnrCount, rnrWait]]: requester and responder progress
    owner,  \* [Ep -> [Buffers -> {"proc", "hw"}]]: who may touch each buffer
    hist,   \* [Ep -> [posted, polled, discarded, placed]]: what happened so far
    net,    \* [Ep -> Seq(Msg)]: net[e] is the byte stream from e to Peer(e)
    conn,   \* "up" or "down"
    audit   \* the step properties some step of the behaviour broke: {} in every correct run

(***************************************************************************)
(* nic[e].started:  the first `started` WRs of sq[e] went on the wire at    *)
(*                  least once;                                            *)
(* nic[e].inflight: the first `inflight` WRs of sq[e] are on the wire in   *)
(*                  the current round (an RNR NAK starts a new round);     *)
(* nic[e].rnrCount: RNR retries spent on the head of sq[e];                *)
(* nic[e].rnrWait:  as responder, e RNR-NAKed this peer WR and drops the   *)
(*                  requests behind it until its retry arrives (0: none).  *)
(* hist[e].posted:  WRs posted so far (ids 1..posted);                      *)
(* hist[e].polled:  [id, q] of the completions the consumer polled;        *)
(* hist[e].discarded: ids of WRs a modify to RESET dropped;                *)
(* hist[e].placed:  ids of the peer's send WRs whose data e placed.        *)
(*                                                                         *)
(* audit turns two properties of steps into invariants without keeping the *)
(* last step in the state (which would multiply the states several times): *)
(* each QP transition is compared with the QP machine's relation and each  *)
(* placement of data with the posted buffers and MR permissions as it      *)
(* happens; a step that breaks one adds its name to audit.                 *)
(***************************************************************************)

vars == <<qp, sq, rq, cq, nic, owner, hist, net, conn, audit>>

-----------------------------------------------------------------------------
(* Helpers *)

IdsOf(s) == {s[k].id : k \in 1..Len(s)}
BufsOf(s) == {s[k].buf : k \in 1..Len(s)}
CountId(s, i) == Cardinality({k \in 1..Len(s) : s[k].id = i})
CountBuf(s, b) == Cardinality({k \in 1..Len(s) : s[k].buf = b})

\* The next unread message of the stream into e.
Incoming(e) == net[Peer(e)]
InHead(e) == net[Peer(e)][1]

\* Bytes are written only while the connection is up; afterwards they go nowhere.
Emit(ch, m) == IF conn = "up" THEN Append(ch, m) ELSE ch

\* A QP leaving the connected states closes the socket it owns: its unread input is dropped,
\* what it has written is still delivered (TCP graceful close), and nothing more is written.
NetAfterClose(e, n) == IF qp[e] \in Connected THEN [n EXCEPT ![Peer(e)] = <<>>] ELSE n
ConnAfterClose(e) == IF qp[e] \in Connected THEN "down" ELSE conn

Idle == [started |-> 0, inflight |-> 0, rnrCount |-> 0, rnrWait |-> 0]

\* audit after e moves from its state to `to` through event ev (MODIFY or an error event):
\* the step must be one of the QP machine's.
AuditQp(e, ev, to) ==
    IF <<qp[e], ev, to>> \in QpMachineSteps THEN audit ELSE audit \cup {"QpTransitionsInTable"}

\* audit after e places data into buffer or MR range `where`: a buffer must be the buffer of
\* a posted receive, still the hardware's; an MR range must grant REMOTE_WRITE.
AuditPlace(e, kind, where) ==
    IF \/ kind = "buf" /\ owner[e][where] = "hw" /\ where \in BufsOf(rq[e])
       \/ kind = "mr" /\ where \in RemoteWritable
    THEN audit
    ELSE audit \cup {"DataPlacedSafely"}

\* e goes to ERR through error event ev: progress is dropped and the socket closed.
ToErr(e, ev) ==
    /\ qp' = [qp EXCEPT ![e] = "ERR"]
    /\ nic' = [nic EXCEPT ![e] = Idle]
    /\ net' = NetAfterClose(e, net)
    /\ conn' = ConnAfterClose(e)
    /\ audit' = AuditQp(e, ev, "ERR")

\* The oldest send WR completes with status st and e goes to ERR through event ev.
FailHead(e, st, ev) ==
    /\ cq' = [cq EXCEPT ![e] = Append(@, Wc(sq[e][1], "S", st))]
    /\ sq' = [sq EXCEPT ![e] = Tail(@)]
    /\ ToErr(e, ev)
    /\ UNCHANGED <<rq, owner, hist>>

-----------------------------------------------------------------------------
(* Both QPs start in RESET; the control path has connected the socket.      *)

Init ==
    /\ qp = [e \in Ep |-> "RESET"]
    /\ sq = [e \in Ep |-> <<>>]
    /\ rq = [e \in Ep |-> <<>>]
    /\ cq = [e \in Ep |-> <<>>]
    /\ nic = [e \in Ep |-> Idle]
    /\ owner = [e \in Ep |-> [b \in Buffers |-> "proc"]]
    /\ hist = [e \in Ep |-> [posted |-> 0, polled |-> {}, discarded |-> {}, placed |-> {}]]
    /\ net = [e \in Ep |-> <<>>]
    /\ conn = "up"
    /\ audit = {}

-----------------------------------------------------------------------------
(* Application. A refused post (EINVAL) and a modify the kernel table      *)
(* rejects change nothing: they are stuttering steps and not written out.   *)

\* ibv_post_send of one WR (op, target t, buffer b) that the QP's state admits.
PostSendWr(e, op, t, b) ==
    /\ hist[e].posted < MaxPosts
    /\ PostSendVerdict[qp[e]] # "refused"
    /\ owner[e][b] = "proc"
    /\ sq' = [sq EXCEPT ![e] = Append(@, Wr(hist[e].posted + 1, op, b, t))]
    /\ owner' = [owner EXCEPT ![e][b] = "hw"]
    /\ hist' = [hist EXCEPT ![e].posted = @ + 1]
    /\ UNCHANGED audit
    /\ UNCHANGED <<qp, rq, cq, nic, net, conn>>

PostRecvWr(e, b) ==
    /\ hist[e].posted < MaxPosts
    /\ PostRecvVerdict[qp[e]] # "refused"
    /\ owner[e][b] = "proc"
    /\ rq' = [rq EXCEPT ![e] = Append(@, Wr(hist[e].posted + 1, "RECV", b, "none"))]
    /\ owner' = [owner EXCEPT ![e][b] = "hw"]
    /\ hist' = [hist EXCEPT ![e].posted = @ + 1]
    /\ UNCHANGED audit
    /\ UNCHANGED <<qp, sq, cq, nic, net, conn>>

\* The application posts some WR (the guards are repeated first to prune the choices early).
PostSend(e) ==
    /\ hist[e].posted < MaxPosts
    /\ PostSendVerdict[qp[e]] # "refused"
    /\ \E op \in SendOps : \E t \in TargetsOf(op) : \E b \in Buffers : PostSendWr(e, op, t, b)

PostRecv(e) ==
    /\ hist[e].posted < MaxPosts
    /\ PostRecvVerdict[qp[e]] # "refused"
    /\ \E b \in Buffers : PostRecvWr(e, b)

\* ibv_poll_cq takes the oldest completion; the WR's buffer is the process's again.
Poll(e) ==
    /\ cq[e] # <<>>
    /\ cq' = [cq EXCEPT ![e] = Tail(@)]
    /\ hist' = [hist EXCEPT ![e].polled = @ \cup {[id |-> cq[e][1].id, q |-> cq[e][1].q]}]
    /\ owner' = [owner EXCEPT ![e][cq[e][1].buf] = "proc"]
    /\ UNCHANGED audit
    /\ UNCHANGED <<qp, sq, rq, nic, net, conn>>

\* A modify that neither resets nor errors the QP: to INIT, RTR, RTS or SQD. A modify to the
\* current state changes attributes only and is a stuttering step.
ModifyTo(e, to) ==
    /\ to \notin {"RESET", "ERR"}
    /\ to # qp[e]
    /\ <<qp[e], to>> \in ModifyPairs
    /\ qp' = [qp EXCEPT ![e] = to]
    /\ audit' = AuditQp(e, "MODIFY", to)
    /\ UNCHANGED <<sq, rq, cq, nic, owner, hist, net, conn>>

Modify(e) == \E to \in ModifyTargets[qp[e]] : ModifyTo(e, to)

\* Modify to ERR: the socket is closed; FlushSend and FlushRecv empty the queues.
ModifyToErr(e) ==
    /\ qp[e] # "ERR"
    /\ <<qp[e], "ERR">> \in ModifyPairs
    /\ ToErr(e, "MODIFY")
    /\ UNCHANGED <<sq, rq, cq, owner, hist>>

\* Modify to RESET: queued WRs vanish without a completion and their buffers return to the
\* process; completions already in the CQ stay there and can still be polled.
ModifyToReset(e) ==
    /\ qp[e] # "RESET"
    /\ <<qp[e], "RESET">> \in ModifyPairs
    /\ qp' = [qp EXCEPT ![e] = "RESET"]
    /\ hist' = [hist EXCEPT ![e].discarded = @ \cup IdsOf(sq[e]) \cup IdsOf(rq[e])]
    /\ owner' = [owner EXCEPT ![e] = [b \in Buffers |->
                    IF b \in BufsOf(sq[e]) \cup BufsOf(rq[e]) THEN "proc" ELSE owner[e][b]]]
    /\ sq' = [sq EXCEPT ![e] = <<>>]
    /\ rq' = [rq EXCEPT ![e] = <<>>]
    /\ nic' = [nic EXCEPT ![e] = Idle]
    /\ net' = NetAfterClose(e, net)
    /\ conn' = ConnAfterClose(e)
    /\ audit' = AuditQp(e, "MODIFY", "RESET")
    /\ UNCHANGED cq

-----------------------------------------------------------------------------
(* Requester: transmit; complete on ACK or error NAK; go back on RNR NAK.  *)

\* The NIC puts the next WR on the wire. RTS starts new WRs; SQD only sends again WRs that
\* started before the drain (after an RNR NAK); RTR never sends.
Transmit(e) ==
    /\ conn = "up"
    /\ \/ qp[e] = "RTS" /\ nic[e].inflight < Len(sq[e])
       \/ qp[e] = "SQD" /\ nic[e].inflight < nic[e].started
    /\ net' = [net EXCEPT ![e] = Append(@, Req(sq[e][nic[e].inflight + 1]))]
    /\ nic' = [nic EXCEPT ![e].inflight = @ + 1,
                          ![e].started = IF nic[e].inflight + 1 > @ THEN nic[e].inflight + 1 ELSE @]
    /\ UNCHANGED audit
    /\ UNCHANGED <<qp, sq, rq, cq, owner, hist, conn>>

\* A response to the oldest WR in flight is next on the stream from the peer.
ResponseReady(e) ==
    /\ Incoming(e) # <<>>
    /\ InHead(e).k # "REQ"
    /\ qp[e] \in {"RTS", "SQD"}
    /\ nic[e].inflight > 0
    /\ InHead(e).id = sq[e][1].id

RecvAck(e) ==
    /\ ResponseReady(e)
    /\ InHead(e).k = "ACK"
    /\ net' = [net EXCEPT ![Peer(e)] = Tail(@)]
    /\ cq' = [cq EXCEPT ![e] = Append(@, Wc(sq[e][1], "S", "SUCCESS"))]
    /\ sq' = [sq EXCEPT ![e] = Tail(@)]
    /\ nic' = [nic EXCEPT ![e].inflight = @ - 1, ![e].started = @ - 1, ![e].rnrCount = 0]
    /\ UNCHANGED audit
    /\ UNCHANGED <<qp, rq, owner, hist, conn>>

\* Remote access error or invalid request: the WR completes with its own status first, then
\* the QP goes to ERR (the rest is flushed) and closes the socket.
RecvErrorNak(e) ==
    /\ ResponseReady(e)
    /\ InHead(e).k = "NAK"
    /\ InHead(e).why \in {"ACCESS", "INVREQ"}
    /\ FailHead(e, IF InHead(e).why = "ACCESS" THEN "REM_ACCESS_ERR" ELSE "REM_INV_REQ_ERR",
                "REMOTE_NAK")

\* RNR NAK with retries left: start a new round at the NAKed WR (the responder drops the
\* requests that followed it).
RecvRnrNak(e) ==
    /\ ResponseReady(e)
    /\ InHead(e).k = "NAK"
    /\ InHead(e).why = "RNR"
    /\ nic[e].rnrCount < RnrRetry
    /\ net' = [net EXCEPT ![Peer(e)] = Tail(@)]
    /\ nic' = [nic EXCEPT ![e].rnrCount = @ + 1, ![e].inflight = 0]
    /\ UNCHANGED audit
    /\ UNCHANGED <<qp, sq, rq, cq, owner, hist, conn>>

\* RNR NAK with no retry left: RNR_RETRY_EXC_ERR.
RecvRnrExceeded(e) ==
    /\ ResponseReady(e)
    /\ InHead(e).k = "NAK"
    /\ InHead(e).why = "RNR"
    /\ nic[e].rnrCount = RnrRetry
    /\ FailHead(e, "RNR_RETRY_EXC_ERR", "RETRY_EXCEEDED")

\* The peer is silent -- it never took the socket (RESET, INIT, or ERR from INIT) -- while a
\* WR waits for its ACK: the transport retries (timeout, retry_cnt) run out.
Timeout(e) ==
    /\ nic[e].inflight > 0
    /\ conn = "up"
    /\ qp[e] \in {"RTS", "SQD"}
    /\ qp[Peer(e)] \notin Connected
    /\ FailHead(e, "RETRY_EXC_ERR", "RETRY_EXCEEDED")

-----------------------------------------------------------------------------
(* Responder: e executes the request next on the stream from Peer(e).      *)

RequestReady(e) ==
    /\ Incoming(e) # <<>>
    /\ InHead(e).k = "REQ"
    /\ qp[e] \in Connected

\* After an RNR NAK the responder waits for the retry of that WR and drops what follows it.
InSequence(e) == nic[e].rnrWait = 0 \/ InHead(e).id = nic[e].rnrWait

RespondDrop(e) ==
    /\ RequestReady(e)
    /\ ~InSequence(e)
    /\ net' = [net EXCEPT ![Peer(e)] = Tail(@)]
    /\ UNCHANGED audit
    /\ UNCHANGED <<qp, sq, rq, cq, nic, owner, hist, conn>>

RespondRnr(e) ==
    /\ RequestReady(e)
    /\ InSequence(e)
    /\ InHead(e).op = "SEND"
    /\ rq[e] = <<>>
    /\ net' = [net EXCEPT ![Peer(e)] = Tail(@), ![e] = Emit(@, Resp(InHead(e).id, "NAK", "RNR"))]
    /\ nic' = [nic EXCEPT ![e].rnrWait = InHead(e).id]
    /\ UNCHANGED audit
    /\ UNCHANGED <<qp, sq, rq, cq, owner, hist, conn>>

\* A SEND lands in the buffer of the oldest posted receive, which completes.
RespondRecv(e) ==
    /\ RequestReady(e)
    /\ InSequence(e)
    /\ InHead(e).op = "SEND"
    /\ rq[e] # <<>>
    /\ rq' = [rq EXCEPT ![e] = Tail(@)]
    /\ cq' = [cq EXCEPT ![e] = Append(@, Wc(rq[e][1], "R", "SUCCESS"))]
    /\ hist' = [hist EXCEPT ![e].placed = @ \cup {InHead(e).id}]
    /\ net' = [net EXCEPT ![Peer(e)] = Tail(@), ![e] = Emit(@, Resp(InHead(e).id, "ACK", "none"))]
    /\ nic' = [nic EXCEPT ![e].rnrWait = 0]
    /\ audit' = AuditPlace(e, "buf", rq[e][1].buf)
    /\ UNCHANGED <<qp, sq, owner, conn>>

\* An RDMA WRITE into a range an MR covers with REMOTE_WRITE is placed there.
RespondWrite(e) ==
    /\ RequestReady(e)
    /\ InSequence(e)
    /\ InHead(e).op = "WRITE"
    /\ InHead(e).tgt \in RemoteWritable
    /\ hist' = [hist EXCEPT ![e].placed = @ \cup {InHead(e).id}]
    /\ net' = [net EXCEPT ![Peer(e)] = Tail(@), ![e] = Emit(@, Resp(InHead(e).id, "ACK", "none"))]
    /\ nic' = [nic EXCEPT ![e].rnrWait = 0]
    /\ audit' = AuditPlace(e, "mr", InHead(e).tgt)
    /\ UNCHANGED <<qp, sq, rq, cq, owner, conn>>

\* A request e must refuse: NAK it, then go to ERR (LOCAL_ERROR) and close the socket.
RespondFault(e, why) ==
    /\ net' = [n \in Ep |-> IF n = e THEN Emit(net[e], Resp(InHead(e).id, "NAK", why)) ELSE <<>>]
    /\ conn' = "down"
    /\ qp' = [qp EXCEPT ![e] = "ERR"]
    /\ nic' = [nic EXCEPT ![e] = Idle]
    /\ audit' = AuditQp(e, "LOCAL_ERROR", "ERR")
    /\ UNCHANGED <<sq, rq, cq, owner, hist>>

\* A WRITE outside every MR range that grants REMOTE_WRITE: remote access error.
RespondAccessError(e) ==
    /\ RequestReady(e)
    /\ InSequence(e)
    /\ InHead(e).op = "WRITE"
    /\ InHead(e).tgt \notin RemoteWritable
    /\ RespondFault(e, "ACCESS")

\* A malformed request (e.g. a misaligned atomic): invalid request.
RespondInvalid(e) ==
    /\ RequestReady(e)
    /\ InSequence(e)
    /\ InHead(e).op = "BADREQ"
    /\ RespondFault(e, "INVREQ")

-----------------------------------------------------------------------------
(* ERR: both queues are flushed, oldest first, with WR_FLUSH_ERR.          *)

FlushSend(e) ==
    /\ qp[e] = "ERR"
    /\ sq[e] # <<>>
    /\ cq' = [cq EXCEPT ![e] = Append(@, Wc(sq[e][1], "S", "WR_FLUSH_ERR"))]
    /\ sq' = [sq EXCEPT ![e] = Tail(@)]
    /\ UNCHANGED audit
    /\ UNCHANGED <<qp, rq, nic, owner, hist, net, conn>>

FlushRecv(e) ==
    /\ qp[e] = "ERR"
    /\ rq[e] # <<>>
    /\ cq' = [cq EXCEPT ![e] = Append(@, Wc(rq[e][1], "R", "WR_FLUSH_ERR"))]
    /\ rq' = [rq EXCEPT ![e] = Tail(@)]
    /\ UNCHANGED audit
    /\ UNCHANGED <<qp, sq, nic, owner, hist, net, conn>>

-----------------------------------------------------------------------------
(* The connection.                                                         *)

\* The connection breaks by itself (cable cut, RST): whatever is in flight is lost.
Break ==
    /\ AllowBreak
    /\ conn = "up"
    /\ conn' = "down"
    /\ net' = [e \in Ep |-> <<>>]
    /\ UNCHANGED audit
    /\ UNCHANGED <<qp, sq, rq, cq, nic, owner, hist>>

\* A connected QP sees the end of the stream (FIN or RST) once it has read everything before it.
DetectLoss(e) ==
    /\ conn = "down"
    /\ Incoming(e) = <<>>
    /\ qp[e] \in Connected
    /\ ToErr(e, "CONNECTION_LOST")
    /\ UNCHANGED <<sq, rq, cq, owner, hist>>

\* The control path connects a new socket once neither QP holds the old one.
Reconnect ==
    /\ conn = "down"
    /\ \A e \in Ep : qp[e] \in {"RESET", "INIT"}
    /\ conn' = "up"
    /\ net' = [e \in Ep |-> <<>>]
    /\ nic' = [e \in Ep |-> [nic[e] EXCEPT !.rnrWait = 0]]
    /\ UNCHANGED audit
    /\ UNCHANGED <<qp, sq, rq, cq, owner, hist>>

-----------------------------------------------------------------------------
(* The next-state relation, action by action, and fairness.               *)

Next ==
    \/ \E e \in Ep : PostSend(e)
    \/ \E e \in Ep : PostRecv(e)
    \/ \E e \in Ep : Poll(e)
    \/ \E e \in Ep : Modify(e)
    \/ \E e \in Ep : ModifyToErr(e)
    \/ \E e \in Ep : ModifyToReset(e)
    \/ \E e \in Ep : Transmit(e)
    \/ \E e \in Ep : RecvAck(e)
    \/ \E e \in Ep : RecvErrorNak(e)
    \/ \E e \in Ep : RecvRnrNak(e)
    \/ \E e \in Ep : RecvRnrExceeded(e)
    \/ \E e \in Ep : Timeout(e)
    \/ \E e \in Ep : RespondDrop(e)
    \/ \E e \in Ep : RespondRnr(e)
    \/ \E e \in Ep : RespondRecv(e)
    \/ \E e \in Ep : RespondWrite(e)
    \/ \E e \in Ep : RespondAccessError(e)
    \/ \E e \in Ep : RespondInvalid(e)
    \/ \E e \in Ep : FlushSend(e)
    \/ \E e \in Ep : FlushRecv(e)
    \/ \E e \in Ep : DetectLoss(e)
    \/ Break
    \/ Reconnect

Requester(e) == RecvAck(e) \/ RecvErrorNak(e) \/ RecvRnrNak(e) \/ RecvRnrExceeded(e)

Responder(e) ==
    \/ RespondDrop(e)
    \/ RespondRnr(e)
    \/ RespondRecv(e)
    \/ RespondWrite(e)
    \/ RespondAccessError(e)
    \/ RespondInvalid(e)

Flush(e) == FlushSend(e) \/ FlushRecv(e)

\* The application resumes a QP it drained (SQD -> RTS).
ResumeFromSqd(e) == qp[e] = "SQD" /\ ModifyTo(e, "RTS")

\* Hardware and network make progress; the application eventually resumes a drained QP
\* (a send posted in SQD waits for SQD -> RTS). Transmit is strongly fair: an application
\* flapping RTS <-> SQD disables it infinitely often.
Fairness ==
    /\ SF_vars(Transmit("A")) /\ SF_vars(Transmit("B"))
    /\ WF_vars(Requester("A")) /\ WF_vars(Requester("B"))
    /\ WF_vars(Responder("A")) /\ WF_vars(Responder("B"))
    /\ WF_vars(Timeout("A")) /\ WF_vars(Timeout("B"))
    /\ WF_vars(Flush("A")) /\ WF_vars(Flush("B"))
    /\ WF_vars(DetectLoss("A")) /\ WF_vars(DetectLoss("B"))
    /\ WF_vars(ResumeFromSqd("A")) /\ WF_vars(ResumeFromSqd("B"))

Spec == Init /\ [][Next]_vars /\ Fairness

-----------------------------------------------------------------------------
(* Invariants                                                              *)

WrType == [id : Ids, op : SendOps \cup {"RECV"}, buf : Buffers, tgt : Targets]
WcType == [id : Ids, q : {"S", "R"}, st : Statuses, buf : Buffers]
MsgType == [k : {"REQ", "ACK", "NAK"}, id : Ids, op : SendOps \cup {"none"}, tgt : Targets,
            why : {"none", "RNR", "ACCESS", "INVREQ"}]

TypeOK ==
    /\ qp \in [Ep -> QpStates]
    /\ conn \in {"up", "down"}
    /\ audit \subseteq StepProperties
    /\ \A e \in Ep :
        /\ \A k \in 1..Len(sq[e]) : sq[e][k] \in WrType /\ sq[e][k].op # "RECV"
        /\ \A k \in 1..Len(rq[e]) : rq[e][k] \in WrType /\ rq[e][k].op = "RECV"
        /\ \A k \in 1..Len(cq[e]) : cq[e][k] \in WcType
        /\ \A k \in 1..Len(net[e]) : net[e][k] \in MsgType
        /\ nic[e].started \in 0..Len(sq[e])
        /\ nic[e].inflight \in 0..nic[e].started
        /\ nic[e].rnrCount \in 0..RnrRetry
        /\ nic[e].rnrWait \in 0..MaxPosts
        /\ owner[e] \in [Buffers -> {"proc", "hw"}]
        /\ hist[e].posted \in 0..MaxPosts
        /\ \A x \in hist[e].polled : x.id \in Ids /\ x.q \in {"S", "R"}
        /\ hist[e].discarded \subseteq Ids
        /\ hist[e].placed \subseteq Ids

\* Every posted WR is in exactly one place: its queue (waiting or in flight), the CQ,
\* polled, or discarded by RESET. None lost, none duplicated, none invented.
EveryWrInOnePlace ==
    \A e \in Ep :
        /\ \A i \in 1..hist[e].posted :
              CountId(sq[e], i) + CountId(rq[e], i) + CountId(cq[e], i)
              + Cardinality({x \in hist[e].polled : x.id = i})
              + (IF i \in hist[e].discarded THEN 1 ELSE 0) = 1
        /\ \A i \in IdsOf(sq[e]) \cup IdsOf(rq[e]) \cup IdsOf(cq[e]) \cup hist[e].discarded :
              i <= hist[e].posted
        /\ \A x \in hist[e].polled : x.id <= hist[e].posted

\* A buffer is never the process's and the hardware's at once: the process owns exactly the
\* buffers that no outstanding WR (queued, in flight, or completed but not polled) uses, and
\* the hardware holds each of its buffers through exactly one WR.
BufferOwnership ==
    \A e \in Ep : \A b \in Buffers :
        LET users == CountBuf(sq[e], b) + CountBuf(rq[e], b) + CountBuf(cq[e], b)
        IN /\ owner[e][b] = "proc" => users = 0
           /\ owner[e][b] = "hw" => users = 1

\* Completions of each work queue come in posting order: within the CQ, and nothing that
\* completed (in the CQ or polled) is younger than a WR still waiting in the same queue.
CompletionsInPostingOrder ==
    \A e \in Ep :
        /\ \A j, k \in 1..Len(cq[e]) :
              (j < k /\ cq[e][j].q = cq[e][k].q) => cq[e][j].id < cq[e][k].id
        /\ \A j \in 1..Len(cq[e]) :
              /\ cq[e][j].q = "S" => \A i \in IdsOf(sq[e]) : cq[e][j].id < i
              /\ cq[e][j].q = "R" => \A i \in IdsOf(rq[e]) : cq[e][j].id < i
        /\ \A x \in hist[e].polled :
              /\ x.q = "S" => \A i \in IdsOf(sq[e]) : x.id < i
              /\ x.q = "R" => \A i \in IdsOf(rq[e]) : x.id < i
              /\ \A j \in 1..Len(cq[e]) : cq[e][j].q = x.q => x.id < cq[e][j].id

\* Data is placed only into the buffer of a posted receive (still the hardware's) or into an
\* MR range that grants REMOTE_WRITE: no step placed data anywhere else (AuditPlace).
DataPlacedSafely == "DataPlacedSafely" \notin audit

\* A successful send completion means the responder placed the data (IB RC: the responder
\* acknowledges; TCP having accepted the bytes is not enough).
SendSuccessMeansPlaced ==
    \A e \in Ep : \A j \in 1..Len(cq[e]) :
        (cq[e][j].q = "S" /\ cq[e][j].st = "SUCCESS") => cq[e][j].id \in hist[Peer(e)].placed

\* Every QP transition taken is one of the QP machine's, which for a modify means a pair of the
\* kernel table (AuditQp).
QpTransitionsInTable == "QpTransitionsInTable" \notin audit

\* A work queue holds WRs only in a state whose post admission lets it hold them.
QueuesAdmittedByState ==
    \A e \in Ep :
        /\ sq[e] # <<>> => PostSendVerdict[qp[e]] # "refused"
        /\ rq[e] # <<>> => PostRecvVerdict[qp[e]] # "refused"

\* Every response on the wire answers a WR its requester has started.
ResponsesMatchRequests ==
    \A e \in Ep : \A k \in 1..Len(Incoming(e)) :
        Incoming(e)[k].k # "REQ" => \E j \in 1..nic[e].started : sq[e][j].id = Incoming(e)[k].id

-----------------------------------------------------------------------------
(* Liveness, under Spec's fairness                                          *)

\* Every posted send WR eventually leaves the send queue: it completes, or a modify to RESET
\* discards it (EveryWrInOnePlace leaves nowhere else to go).
SendWrsComplete ==
    \A e \in Ep : \A i \in Ids : (i \in IdsOf(sq[e])) ~> (i \notin IdsOf(sq[e]))

\* An ERR QP's queues eventually drain by flush (unless the application resets it first).
ErrQueuesDrain ==
    \A e \in Ep : (qp[e] = "ERR") ~> (qp[e] # "ERR" \/ (sq[e] = <<>> /\ rq[e] = <<>>))

=============================================================================
