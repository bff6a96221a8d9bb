"""The web server: Flask routes and WebSocket push over the labeling session."""
