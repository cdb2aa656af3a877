"""officeflow: the office mailbox daemon that carries 请示 from receipt to result."""

__version__ = "0.1.0"
