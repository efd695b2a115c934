"""Write paths of the vaults app: deposits, the release job, seeding."""
