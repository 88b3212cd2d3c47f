pip install animica-native
