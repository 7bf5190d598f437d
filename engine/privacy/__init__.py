"""Privacy rights, engine-wide (no brand can switch them off, so this is not a module):
consent documents and records, legal holds, retention, data export and account deletion.

Module data is reached only through the manifests' ``export_data`` / ``erase_data`` /
``retention`` hooks (:mod:`engine.modules`), called for every module enabled on the brand.
"""
