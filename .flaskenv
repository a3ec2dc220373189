FLASK_APP=server:create_app
