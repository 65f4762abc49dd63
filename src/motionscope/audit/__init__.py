"""Label audit: out-of-fold probabilities, confident learning, permuted people, duplicates."""

from motionscope.audit.core import audit_dataset
from motionscope.audit.report import AuditReport, GroupSummary, SequenceIssue

__all__ = ["AuditReport", "GroupSummary", "SequenceIssue", "audit_dataset"]
