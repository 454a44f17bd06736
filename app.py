"""Kronos Studio: `streamlit run app.py`. Page navigation and the shared sidebar, nothing else."""
import streamlit as st

from app_support import auth, models, sidebar

st.set_page_config(page_title="Kronos Studio", layout="wide")
# No page icons: a material icon becomes a favicon fetched from a CDN, and emoji need an emoji font.

# Add a page here (one file under pages/); the sidebar's data, model and sampling inputs are shared.
PAGES = [
    st.Page("pages/forecast.py", title="Forecast", default=True),
    st.Page("pages/screener.py", title="Screener"),
    st.Page("pages/compare.py", title="Compare models"),
    st.Page("pages/evaluate.py", title="Evaluate (trust)"),
    st.Page("pages/track_record.py", title="Track record"),
    st.Page("pages/fine_tune.py", title="Fine-tune (events)"),
    st.Page("pages/watch.py", title="Watch"),
]

auth.require_sign_in()  # with sign-in configured (st.login), nothing shows before it
auth.shared_workspace_notice()  # without it, every session shares one workspace: said once
page = st.navigation(PAGES)
st.sidebar.title("Kronos Studio")
sidebar.render()
try:
    page.run()
finally:  # torch and the default model load in the background once the page is drawn (or has stopped)
    models.warm_up().start()
