"""The status codes the code itself moves cases between (the transition table in
``complaints/transitions.py`` is written with these names).

A city's ``sop.yaml`` gives each its step, actor, time standard and labels; the loader refuses a
``sop.yaml`` that lacks one of them, naming the file and line, so a renamed code stops start-up
instead of failing the first case that reaches it. They live in ``config`` because the loader
(the lowest layer) must know them without importing ``complaints``.
"""

from __future__ import annotations

RECEIVED = "diterima"  # step 2: the operator receives the complaint
VERIFIED = "diverifikasi"  # step 3: identity checked, waiting to be sent to an OPD
RETURNED_TO_CITIZEN = "dikembalikan_ke_pelapor"  # step 3 return path: identity incomplete or false
TRIAGE = "triase"  # step 3: no routing rule chose one OPD, the operator picks it
DISPOSED = "disposisi"  # step 4: the OPD has the case
ANALYSED = "dianalisa"  # step 5: the OPD accepted it as its authority
RETURNED_TO_OPERATOR = "dikembalikan_ke_operator"  # step 5 return path: not this OPD's authority
FOLLOWED_UP = "ditindaklanjuti"  # step 6: the OPD is following it up
ANSWERED = "dijawab"  # step 7: the OPD sent its answer to the operator
ANSWER_RECEIVED = "diterima_operator"  # step 8: the operator received the answer and moderates it
CLOSED = "selesai"  # step 9: the answer was approved and delivered; the case is finished

CODE_STATUSES: tuple[str, ...] = (
    RECEIVED,
    VERIFIED,
    RETURNED_TO_CITIZEN,
    TRIAGE,
    DISPOSED,
    ANALYSED,
    RETURNED_TO_OPERATOR,
    FOLLOWED_UP,
    ANSWERED,
    ANSWER_RECEIVED,
    CLOSED,
)
"""Every status the transition table uses; each must be defined in sop.yaml."""
