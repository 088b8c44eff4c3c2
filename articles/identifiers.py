"""Normalising and validating reference identifiers (DOI, PMID, PMCID) and citation keys.

One function per identifier; each returns the canonical form or raises ValidationError with a message a
writer can act on. Forms, the importer and the citation parser all go through here.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator

# Pandoc citation keys: start with a letter, digit or underscore; internal punctuation allowed.
CITATION_KEY_PATTERN = r"[A-Za-z0-9_](?:[A-Za-z0-9_.:\-]*[A-Za-z0-9_])?"
validate_citation_key = RegexValidator(
    rf"^{CITATION_KEY_PATTERN}$",
    "A citation key uses letters, digits, “_”, “-”, “.” or “:” and starts and ends with a letter or digit.",
)

# Crossref's recommended pattern for modern DOIs: https://www.crossref.org/blog/dois-and-matching-regular-expressions/
DOI_RE = re.compile(r"^10\.\d{4,9}/[-._;()/:a-z0-9<>\[\]]+$")
_DOI_PREFIXES = ("https://doi.org/", "http://doi.org/", "https://dx.doi.org/", "http://dx.doi.org/", "doi:")
PMID_RE = re.compile(r"^[1-9]\d{0,7}$")
PMCID_RE = re.compile(r"^PMC\d{1,9}$")


def normalise_doi(raw: str) -> str:
    doi = raw.strip().lower()
    for prefix in _DOI_PREFIXES:
        if doi.startswith(prefix):
            doi = doi[len(prefix) :].strip()
            break
    if not DOI_RE.match(doi):
        raise ValidationError(f"“{raw.strip()}” is not a DOI (expected something like 10.1056/NEJMoa1304048).")
    return doi


def normalise_pmid(raw: str) -> str:
    pmid = raw.strip()
    if pmid.lower().startswith("pmid:"):
        pmid = pmid[5:].strip()
    if not PMID_RE.match(pmid):
        raise ValidationError(f"“{raw.strip()}” is not a PMID (1 to 8 digits).")
    return pmid


def normalise_pmcid(raw: str) -> str:
    pmcid = raw.strip().upper()
    if pmcid.isdigit():
        pmcid = f"PMC{pmcid}"
    if not PMCID_RE.match(pmcid):
        raise ValidationError(f"“{raw.strip()}” is not a PMCID (expected PMC followed by digits).")
    return pmcid
