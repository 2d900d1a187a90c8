"""The Airflow UI plugin's server side: its FastAPI app (:mod:`.api`), what it reads
(:mod:`.sources`) and the Data Locality page's rows (:mod:`.locality`). The React bundle
it serves is built from ``frontend/`` into ``static/``. Imported only by the API server."""
