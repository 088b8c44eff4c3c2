"""The syndication API (/api/v1/): approved articles as readers see them, with their review record
and their sources' standing. Read-only, public data only; never a draft or anything from the desk."""
