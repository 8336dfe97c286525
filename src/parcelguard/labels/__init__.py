"""Privacy labels (隐私面单): masked recipient fields and an opaque QR token.

A label must let a courier and a sorter do their work without showing who the recipient is
(GB/T 41833-2022), and its QR code must not become a second door to the data. So the QR
carries an encrypted, authenticated, expiring reference (:mod:`.token`) that only the
reveal service can open, bound on first use to one registered device (:mod:`.redemption`).
The modules are imported one by one: the renderer pulls in ReportLab and Pillow, which a
handheld's redeem path has no use for.
"""
