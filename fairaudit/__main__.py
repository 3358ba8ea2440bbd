from fairaudit.cli.app import main

main()
