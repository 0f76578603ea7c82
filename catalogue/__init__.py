"""The catalogue: payload, scene searches, tiles, the previous/reference graph and Geocube records.

Plain Python: nothing here imports Prefect.
"""
